//! The HTML report in a real headless browser (Debian's chromium): the page loads, its script
//! runs to the end without errors, and it shows the finding with its causal chain.
//! Runs when chromium is installed; `.ci/run` installs it and sets EOSIM_BROWSER_TEST=1, which
//! makes a missing browser a failure instead of a skip.

use std::process::Command;

fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
}

/// Chromium, or None (the test skips) when it is not installed — a failure instead when
/// EOSIM_BROWSER_TEST is set.
fn chromium_or_skip() -> Option<&'static str> {
    let browser = chromium();
    if browser.is_none() {
        assert!(
            std::env::var_os("EOSIM_BROWSER_TEST").is_none(),
            "EOSIM_BROWSER_TEST is set but chromium is not installed"
        );
        eprintln!("skipped: chromium is not installed (apt-get install chromium)");
    }
    browser
}

#[test]
fn html_report_renders_the_duplicate_and_its_causal_chain_in_chromium() {
    let Some(browser) = chromium_or_skip() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("eosim-browser-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("report.html");
    let run = Command::new(env!("CARGO_BIN_EXE_eosim"))
        .args([
            "run",
            "produce-retries",
            "--seed",
            "7",
            "--guarantee",
            "at-least-once",
            "--html",
        ])
        .arg(&page)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1));
    let (dom, log) = dump_dom(browser, &dir, &page);
    assert!(!log.contains("Uncaught"), "script error:\n{log}");
    assert!(
        dom.contains("data-rendered=\"ok\""),
        "the script did not finish:\n{log}"
    );
    assert!(
        dom.contains("id=\"anomaly-0\"") && dom.contains("duplicate"),
        "no finding shown"
    );
    assert!(
        dom.contains("causal chain") && dom.contains("(Fault)"),
        "no causal chain with the lost ack"
    );
    assert!(
        dom.contains("stroke=\"#e67e00\""),
        "the chain is not highlighted on the timeline"
    );
    assert!(
        dom.contains("class=\"flag\""),
        "the duplicate offsets are not flagged"
    );
}

/// Loads `page` in headless chromium; returns (DOM, browser log).
fn dump_dom(browser: &str, dir: &std::path::Path, page: &std::path::Path) -> (String, String) {
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn compare_page_shows_a_chart_per_measure_in_chromium() {
    let Some(browser) = chromium_or_skip() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("eosim-compare-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("compare.html");
    let run = Command::new(env!("CARGO_BIN_EXE_eosim"))
        .args(["compare", "transactional-copy", "--seeds", "0..4", "--html"])
        .arg(&page)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0));
    let (dom, log) = dump_dom(browser, &dir, &page);
    assert!(!log.contains("Uncaught"), "page error:\n{log}");
    // Failed runs, a chart per anomaly category, records per second, p99 latency.
    let charts = 3 + eosim::checker::AnomalyCategory::ALL.len();
    assert_eq!(dom.matches("<svg").count(), charts, "{dom}");
    assert!(dom.contains("at-least-once") && dom.contains("exactly-once"));
    assert!(dom.contains("delivered records per virtual second"));
}
