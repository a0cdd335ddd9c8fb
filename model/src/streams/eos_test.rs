//! Kafka Streams' exactly-once system test (reference §3): the generator, the two processing
//! topologies, their verification spec, and the talk's word count.
//!
//! Differences from Kafka's test, each forced by eosim's packed `u64` records:
//! - keys are drawn from 0..4096 by default (12-bit keys), not 0..20,000; fewer keys means
//!   more updates per key, so aggregates are exercised harder, not less;
//! - each record carries a unique input id (1, 2, 3, … in generation order) that every
//!   output and changelog record derived from it repeats (lineage);
//! - values are `i32` and so are the sum and count (Kafka: `Long`); the processors panic on
//!   overflow, which cannot happen below ~200,000 inputs of one key.
//!
//! Partitioning is Kafka's: murmur2 of the key's decimal string, mod the partition count.

use rand::Rng;

use super::record::{InputId, KEY_LIMIT, Key, StreamRecord, Value, partition_for_key};
use super::topology::{Topology, TopologyBuilder};
use checker::aggregate::{AggregateKind, AggregateSpec};

/// The EOS test's application id (consumer group, internal topic prefix).
pub const APPLICATION_ID: &str = "EosTest";
/// The generator's topic.
pub const DATA: &str = "data";
pub const ECHO: &str = "echo";
pub const MIN: &str = "min";
pub const SUM: &str = "sum";
/// The complex test's user topic between its two sub-topologies.
pub const REPARTITION: &str = "repartition";
pub const MAX: &str = "max";
pub const CNT: &str = "cnt";
/// Partitions of every topic in Kafka's test.
pub const PARTITIONS: u32 = 5;
/// Kafka's `MAX_NUMBER_OF_KEYS` (ours defaults to 4096, the 12-bit limit).
pub const KAFKA_KEYS: u32 = 20_000;
/// Values are drawn from 0..VALUE_LIMIT, as Kafka's `rand.nextInt(10000)`.
pub const VALUE_LIMIT: Value = 10_000;
/// The generator pauses 0..MAX_PAUSE_MS after each record, as Kafka's `rand.nextInt(10)`.
pub const MAX_PAUSE_MS: u64 = 10;

/// One generated input record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GeneratedRecord {
    /// The `data` partition of its key.
    pub partition: u32,
    pub record: StreamRecord,
    /// How long the generator sleeps after sending it (virtual milliseconds).
    pub pause_ms: u64,
}

/// The EOS test's generator (`EosTestDriver.generate`): random keys and values, each record
/// to the partition of its key. Draws come from the RNG the caller passes (a named
/// `sim::rng::stream`), in Kafka's order: key, value, pause.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EosTestGenerator {
    keys: u16,
    partitions: u32,
    next_input_id: InputId,
}

impl Default for EosTestGenerator {
    /// 4096 keys, 5 partitions, input ids from 1.
    fn default() -> Self {
        EosTestGenerator {
            keys: KEY_LIMIT,
            partitions: PARTITIONS,
            next_input_id: 1,
        }
    }
}

impl EosTestGenerator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Draw keys from 0..keys (1..=4096; default 4096).
    pub fn with_keys(mut self, keys: u16) -> Self {
        assert!(
            (1..=KEY_LIMIT).contains(&keys),
            "keys must be in 1..={KEY_LIMIT}, not {keys}"
        );
        self.keys = keys;
        self
    }

    /// Partitions of `data` (default 5).
    pub fn with_partitions(mut self, partitions: u32) -> Self {
        assert!(partitions > 0, "data has at least one partition");
        self.partitions = partitions;
        self
    }

    /// The next record; input ids count up from 1 (panics past the 20-bit limit).
    pub fn next_record<R: Rng + ?Sized>(&mut self, rng: &mut R) -> GeneratedRecord {
        let key: Key = rng.gen_range(0..self.keys);
        let value: Value = rng.gen_range(0..VALUE_LIMIT);
        let pause_ms = rng.gen_range(0..MAX_PAUSE_MS);
        let record = StreamRecord::new(self.next_input_id, key, value);
        self.next_input_id += 1;
        GeneratedRecord {
            partition: partition_for_key(key, self.partitions),
            record,
            pause_ms,
        }
    }

    /// `count` records.
    pub fn generate<R: Rng + ?Sized>(&mut self, rng: &mut R, count: usize) -> Vec<GeneratedRecord> {
        (0..count).map(|_| self.next_record(rng)).collect()
    }
}

/// The simple EOS test app ("process"): `data` → `echo`; per key, running min → `min` and
/// running sum → `sum` (stores `min`, `sum`; no repartition: the key is unchanged).
pub fn eos_test_topology() -> Topology {
    let b = TopologyBuilder::new();
    add_simple(&b);
    b.build(APPLICATION_ID)
}

/// The complex EOS test app ("process-complex"): the simple one, plus `data` → `repartition`
/// (a user topic) → per key running max → `max` and count → `cnt` (stores `max`, `cnt`): a
/// second sub-topology whose input is the first one's output.
pub fn eos_test_complex_topology() -> Topology {
    let b = TopologyBuilder::new();
    let data = add_simple(&b);
    let repartitioned = data.through(REPARTITION).group_by_key();
    repartitioned.max(MAX).to_stream().to(MAX);
    repartitioned.count(CNT).to_stream().to(CNT);
    b.build(APPLICATION_ID)
}

fn add_simple(b: &TopologyBuilder) -> super::topology::KStream {
    let data = b.stream(DATA);
    data.to(ECHO);
    let grouped = data.group_by_key();
    grouped.min(MIN).to_stream().to(MIN);
    grouped.sum(SUM).to_stream().to(SUM);
    data
}

/// What Kafka's verifier checks (`verify` / `verify-complex`), for `check_aggregates`.
pub fn eos_test_spec(complex: bool) -> AggregateSpec {
    let mut spec = AggregateSpec::for_layout(super::record::LAYOUT)
        .check(DATA, ECHO, AggregateKind::Echo, APPLICATION_ID)
        .check(DATA, MIN, AggregateKind::Min, APPLICATION_ID)
        .check(DATA, SUM, AggregateKind::Sum, APPLICATION_ID);
    if complex {
        spec = spec
            .check(DATA, REPARTITION, AggregateKind::Echo, APPLICATION_ID)
            .check(REPARTITION, MAX, AggregateKind::Max, APPLICATION_ID)
            .check(REPARTITION, CNT, AggregateKind::Count, APPLICATION_ID);
    }
    spec
}

// ---- word count: the talk's DSL example ----

/// The word count app's id.
pub const WORD_COUNT_APPLICATION_ID: &str = "wordcount";
/// Input topic of lines.
pub const LINES: &str = "lines";
/// Output topic: (word, count) per word occurrence.
pub const WORD_COUNTS: &str = "word-counts";
/// The count store (`wordcount-counts-changelog`; its input is repartitioned by word through
/// `wordcount-counts-repartition`).
pub const COUNTS_STORE: &str = "counts";
/// The most words a line holds: one per byte of the 32-bit value.
pub const WORDS_PER_LINE: usize = 4;

/// The words lines are made of; a word's key is its index. A line's value holds up to four
/// words, one per byte (least significant first), each as index + 1 (0: no word), so the
/// vocabulary can grow to 255 words.
pub const VOCABULARY: [&str; 16] = [
    "all",
    "streams",
    "lead",
    "to",
    "kafka",
    "hello",
    "world",
    "join",
    "summit",
    "exactly",
    "once",
    "stream",
    "processing",
    "is",
    "hard",
    "easy",
];

/// The key of `word`, if it is in the vocabulary.
pub fn word_key(word: &str) -> Option<Key> {
    VOCABULARY.iter().position(|w| *w == word).map(|i| i as Key)
}

/// A line of known words as a value; panics on an unknown word or more than four words.
pub fn encode_line(words: &[&str]) -> Value {
    assert!(
        words.len() <= WORDS_PER_LINE,
        "a line holds at most {WORDS_PER_LINE} words: {words:?}"
    );
    let bytes = words.iter().enumerate().fold(0u32, |acc, (i, word)| {
        let key = word_key(word).unwrap_or_else(|| panic!("{word:?} is not in the vocabulary"));
        acc | (u32::from(key) + 1) << (8 * i)
    });
    bytes as Value
}

/// The word keys of a line, in order.
pub fn decode_line(line: Value) -> Vec<Key> {
    (line as u32)
        .to_le_bytes()
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| Key::from(b) - 1)
        .collect()
}

/// The line as text.
pub fn line_text(line: Value) -> String {
    let words: Vec<&str> = decode_line(line)
        .iter()
        .map(|&k| VOCABULARY[k as usize])
        .collect();
    words.join(" ")
}

/// Word count: `lines` → split into words → group by word (repartitioned) → count →
/// `word-counts`. A word record is (line's input id, word key, position in the line), so a
/// word repeated in one line still gives distinct repartition values.
pub fn word_count_topology() -> Topology {
    let b = TopologyBuilder::new();
    b.stream(LINES)
        .flat_map(|_, line| {
            decode_line(line)
                .into_iter()
                .enumerate()
                .map(|(position, word)| (word, position as Value))
                .collect()
        })
        .group_by_key()
        .count(COUNTS_STORE)
        .to_stream()
        .to(WORD_COUNTS);
    b.build(WORD_COUNT_APPLICATION_ID)
}

/// What to verify of a word count run: the count per word, over the committed repartition
/// records (the words) below the group's committed offsets.
pub fn word_count_spec() -> AggregateSpec {
    let words = format!("{WORD_COUNT_APPLICATION_ID}-{COUNTS_STORE}-repartition");
    AggregateSpec::for_layout(super::record::LAYOUT).check(
        &words,
        WORD_COUNTS,
        AggregateKind::Count,
        WORD_COUNT_APPLICATION_ID,
    )
}

/// Random lines of 1..=4 vocabulary words. A line's key is its input id mod 4096, so lines
/// spread over partitions (Kafka's lines have no key and are spread by the producer).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineGenerator {
    partitions: u32,
    next_input_id: InputId,
}

impl Default for LineGenerator {
    /// 5 partitions, input ids from 1.
    fn default() -> Self {
        LineGenerator {
            partitions: PARTITIONS,
            next_input_id: 1,
        }
    }
}

impl LineGenerator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Partitions of `lines` (default 5).
    pub fn with_partitions(mut self, partitions: u32) -> Self {
        assert!(partitions > 0, "lines has at least one partition");
        self.partitions = partitions;
        self
    }

    /// The next line (pause 0..10 ms after it, as the EOS generator).
    pub fn next_line<R: Rng + ?Sized>(&mut self, rng: &mut R) -> GeneratedRecord {
        let count = rng.gen_range(1..=WORDS_PER_LINE);
        let words: Vec<&str> = (0..count)
            .map(|_| VOCABULARY[rng.gen_range(0..VOCABULARY.len())])
            .collect();
        let pause_ms = rng.gen_range(0..MAX_PAUSE_MS);
        let key = (self.next_input_id % u32::from(KEY_LIMIT)) as Key;
        let record = StreamRecord::new(self.next_input_id, key, encode_line(&words));
        self.next_input_id += 1;
        GeneratedRecord {
            partition: partition_for_key(key, self.partitions),
            record,
            pause_ms,
        }
    }
}

#[cfg(test)]
mod tests;
