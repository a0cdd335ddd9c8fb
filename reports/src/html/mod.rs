//! Self-contained HTML pages (no network: data, styles and code inline): a run's page
//! (`run`), a sweep's page (`sweep`), a linearizability check's page (`lin`), the run's and the check's drawn on the shared zoomable
//! timeline (`timeline`), with Streams values shown decoded (`values`).

pub mod batch;
pub mod lin;
pub mod run;
pub mod sweep;
pub mod timeline;
pub mod values;

pub use batch::{render_hunt_html, render_soak_html};
pub use lin::{LinOperation, LinPartition, render_lin_html};
pub use run::{ChainStep, FindingView, PartitionView, render_run_html};
pub use sweep::{SweepPageLinks, render_sweep_html};
pub use timeline::{Bar, Lane, Mark, Span, Timeline};
pub use values::StreamValues;

use serde::Serialize;

/// `text` safe inside HTML text and attribute values.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `data` as JSON that cannot end the `<script>` element holding it (`</` would).
fn script_json(data: &impl Serialize) -> String {
    serde_json::to_string(data)
        .expect("page data serialises")
        .replace("</", "<\\/")
}

/// A page: its title, its own styles and body, its data as JSON (`#data`), then the
/// timeline component and the page's own script.
fn page(title: &str, style: &str, body: &str, data: &impl Serialize, script: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title>\n<style>{BASE_STYLE}{tl}{style}</style></head>\n<body>\n{body}\n\
         <script id=\"data\" type=\"application/json\">{json}</script>\n\
         <script>\n\"use strict\";\n{js}\n{script}\n</script>\n</body></html>\n",
        title = escape(title),
        tl = timeline::STYLE,
        json = script_json(data),
        js = timeline::SCRIPT,
    )
}

/// A page without script (a sweep's, a soak's, a hunt's): its title as the heading, then
/// `body`, with the shared styles.
pub(crate) fn static_page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{0}</title>\
         <style>{BASE_STYLE}</style></head><body><h1>{0}</h1>{body}</body></html>\n",
        escape(title)
    )
}

/// Styles every page shares: nothing may be wider than the window.
pub(crate) const BASE_STYLE: &str = r#"
*, *::before, *::after { box-sizing: border-box; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 0 auto; padding: 1em 1.5em; color: #222; max-width: 100%; }
h1 { font-size: 1.3em; margin: .2em 0; } h2 { font-size: 1.1em; margin: 1.2em 0 .4em; }
code, .mono { font-family: ui-monospace, monospace; font-size: 12px; overflow-wrap: anywhere; }
p, li, div { overflow-wrap: anywhere; }
.pass { color: #176317; } .fail { color: #a11; }
.muted { color: #777; }
table.grid { border-collapse: collapse; font-size: 12px; }
table.grid td, table.grid th { border: 1px solid #ddd; padding: 2px 6px; text-align: left; vertical-align: top; }
table.grid th { background: #f4f4f4; }
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_attribute_quotes() {
        assert_eq!(escape("a<b & \"c\">"), "a&lt;b &amp; &quot;c&quot;&gt;");
    }

    #[test]
    fn script_json_cannot_close_its_script() {
        let json = script_json(&serde_json::json!({ "x": "</script><script>alert(1)" }));
        assert!(!json.contains("</"), "{json}");
    }
}
