//! Record values as a reader wants them: a Streams application packs each record (input id,
//! key, value) into one `u64` (its `RecordLayout`, which it hands the checker with its
//! aggregate checks); the pages show such values decoded, other values as they are.

use checker::aggregate::RecordLayout;

/// How a run's values are shown: decoded with the application's record layout, if it has one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamValues {
    layout: Option<RecordLayout>,
}

impl StreamValues {
    /// Values shown as they are (an application that packs nothing).
    pub fn plain() -> Self {
        StreamValues { layout: None }
    }

    /// Values packed with `layout`.
    pub fn packed(layout: RecordLayout) -> Self {
        StreamValues {
            layout: Some(layout),
        }
    }

    /// The smallest packed value: a record has an input id of at least 1, so every packed
    /// value is at least 2^(32 + key bits). Numbers below it are offsets, op indices, counts.
    fn smallest_packed(layout: RecordLayout) -> u64 {
        1u64.checked_shl(32 + layout.key_bits).unwrap_or(u64::MAX)
    }

    /// `value` for a reader: "input 17, key 3, value 42" (a repartition hop's record says so,
    /// with the input it stands for), or the number itself.
    pub fn show(&self, value: u64) -> String {
        match self.layout {
            Some(layout) if value >= Self::smallest_packed(layout) => {
                let record = layout.decode(value);
                let lineage = layout.lineage(record.input_id);
                let input = if lineage == record.input_id {
                    format!("input {}", record.input_id)
                } else {
                    format!("input {lineage} (repartition hop)")
                };
                format!("⟨{input}, key {}, value {}⟩", record.key, record.value)
            }
            _ => value.to_string(),
        }
    }

    /// `text` with every number that is a packed value decoded (explanations name values
    /// as plain numbers).
    pub fn rewrite(&self, text: &str) -> String {
        let Some(layout) = self.layout else {
            return text.to_string();
        };
        let smallest = Self::smallest_packed(layout);
        let mut out = String::with_capacity(text.len());
        let mut digits = String::new();
        let flush = |digits: &mut String, out: &mut String| {
            match digits.parse::<u64>() {
                Ok(value) if value >= smallest => out.push_str(&self.show(value)),
                _ => out.push_str(digits),
            }
            digits.clear();
        };
        for c in text.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
            } else {
                flush(&mut digits, &mut out);
                out.push(c);
            }
        }
        flush(&mut digits, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack(input_id: u64, key: u64, value: i32) -> u64 {
        (input_id << 44) | (key << 32) | u64::from(value as u32)
    }

    #[test]
    fn packed_values_show_input_key_value_and_lineage() {
        let values = StreamValues::packed(RecordLayout::LEGACY);
        assert_eq!(values.show(pack(17, 3, 42)), "⟨input 17, key 3, value 42⟩");
        assert_eq!(values.show(pack(17, 3, -5)), "⟨input 17, key 3, value -5⟩");
        let hop = (17 | 1 << 19) as u64;
        assert_eq!(
            values.show(pack(hop, 3, 1)),
            "⟨input 17 (repartition hop), key 3, value 1⟩"
        );
        assert_eq!(values.show(47), "47", "small numbers are not records");
        assert_eq!(
            StreamValues::plain().show(pack(17, 3, 42)),
            "299080047657002"
        );
    }

    #[test]
    fn rewrite_decodes_only_the_packed_numbers_of_a_text() {
        let values = StreamValues::packed(RecordLayout::LEGACY);
        let text = format!("value {} at offset 12 (op 7)", pack(5, 1, 9));
        assert_eq!(
            values.rewrite(&text),
            "value ⟨input 5, key 1, value 9⟩ at offset 12 (op 7)"
        );
        assert_eq!(StreamValues::plain().rewrite(&text), text);
    }
}
