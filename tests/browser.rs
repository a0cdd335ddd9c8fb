//! The HTML pages in a real headless browser (Debian's chromium): each loads, its script runs
//! to the end without errors, it shows what it is for (a finding with its causal chain on a
//! timeline with a time axis and operation bars; a linearizability counterexample), and at
//! 1400×900 nothing scrolls sideways. The screenshots README's "HTML reports" lists are made
//! here too (into $EOSIM_SCREENSHOTS, or a temporary directory).
//! Runs when chromium is installed; `.ci/run` installs it and sets EOSIM_BROWSER_TEST=1, which
//! makes a missing browser a failure instead of a skip.

use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
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

/// A fresh directory for one test's pages and browser profile.
fn work_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eosim-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs eosim with `args` and then `--html page`; returns its exit code.
fn eosim_html(args: &[&str], page: &Path) -> Option<i32> {
    Command::new(env!("CARGO_BIN_EXE_eosim"))
        .args(args)
        .arg("--html")
        .arg(page)
        .output()
        .unwrap()
        .status
        .code()
}

/// Headless chromium at 1400×900 with a profile of its own in `dir`.
fn browser_command(browser: &str, dir: &Path) -> Command {
    let mut command = Command::new(browser);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1400,900",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", dir.join("profile").display()));
    command
}

/// Loads `page`; returns (DOM, browser log).
fn dump_dom(browser: &str, dir: &Path, page: &Path) -> (String, String) {
    let out = browser_command(browser, dir)
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// Screenshots `page` at 1400×900 into `png`.
fn screenshot(browser: &str, dir: &Path, page: &Path, png: &Path) {
    let out = browser_command(browser, dir)
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let size = std::fs::metadata(png).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 10_000,
        "no screenshot of {}: {}",
        page.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The number in `name="…"` of the DOM (the pages write their widths into data attributes).
fn attribute(dom: &str, name: &str) -> u64 {
    let start = dom
        .find(&format!("{name}=\""))
        .unwrap_or_else(|| panic!("no {name} in the page"))
        + name.len()
        + 2;
    dom[start..].split('"').next().unwrap().parse().unwrap()
}

/// A copy of a static page (no script of its own) that writes its widths into the DOM as the
/// timeline pages do, for `assert_rendered_and_fitted`.
fn measured_copy(page: &Path) -> std::path::PathBuf {
    const MEASURE: &str = "<script>const e = document.documentElement; \
        document.body.setAttribute('data-scroll-width', e.scrollWidth); \
        document.body.setAttribute('data-client-width', e.clientWidth); \
        document.body.setAttribute('data-rendered', 'ok');</script></body>";
    let html = std::fs::read_to_string(page).unwrap();
    assert!(!html.contains("<script"), "{page:?} is a static page");
    let copy = page.with_extension("measured.html");
    std::fs::write(&copy, html.replace("</body>", MEASURE)).unwrap();
    copy
}

/// The page ran its script to the end, without errors, and is no wider than the window.
fn assert_rendered_and_fitted(dom: &str, log: &str, page: &Path) {
    assert!(
        !log.contains("Uncaught"),
        "script error in {page:?}:\n{log}"
    );
    assert!(
        dom.contains("data-rendered=\"ok\""),
        "the script of {page:?} did not finish:\n{log}"
    );
    let (scroll, client) = (
        attribute(dom, "data-scroll-width"),
        attribute(dom, "data-client-width"),
    );
    assert!(
        scroll <= client,
        "{page:?} scrolls sideways at 1400x900: {scroll} px of content in {client}"
    );
}

#[test]
fn html_report_renders_the_duplicate_and_its_causal_chain_in_chromium() {
    let Some(browser) = chromium_or_skip() else {
        return;
    };
    let dir = work_dir("browser");
    let page = dir.join("report.html");
    let args = [
        "run",
        "produce-retries",
        "--seed",
        "7",
        "--guarantee",
        "at-least-once",
    ];
    assert_eq!(eosim_html(&args, &page), Some(1));
    let (dom, log) = dump_dom(browser, &dir, &page);
    assert_rendered_and_fitted(&dom, &log, &page);
    assert!(
        dom.contains("id=\"anomaly-0\"") && dom.contains("duplicate"),
        "no finding shown"
    );
    assert!(
        dom.contains("causal chain") && dom.contains("(Fault)"),
        "no causal chain with the lost ack"
    );
    assert!(
        dom.contains("stroke=\"#ef6c00\""),
        "the chain is not highlighted on the timeline"
    );
    assert!(dom.contains("data-bar="), "no operation bars");
    assert!(dom.contains("1200 ms"), "no time axis labels");
    assert!(
        dom.contains("class=\"flag\""),
        "the duplicate offsets are not flagged"
    );
}

/// A script appended to a page that works its timeline as a user would — wheel over it,
/// hover a bar, drag it — and writes what happened into the body's data attributes.
const INTERACT: &str = r#"<script>
const svg = document.querySelector(".tl svg"), range = () => document.querySelector(".tl-bar .muted").textContent;
const before = range(), box = svg.getBoundingClientRect();
svg.dispatchEvent(new WheelEvent("wheel", { deltaY: -100, clientX: box.left + box.width / 2, clientY: box.top + 40, bubbles: true, cancelable: true }));
document.body.dataset.zoomed = String(range() !== before);
const bar = svg.querySelector("rect[data-bar]");
bar.dispatchEvent(new MouseEvent("mousemove", { clientX: 500, clientY: 300, bubbles: true }));
const tip = document.querySelector(".tl-tip");
document.body.dataset.tip = tip.style.display === "block" && tip.textContent.includes(" → ") ? "shown" : "missing";
const zoomedRange = range();
svg.dispatchEvent(new MouseEvent("mousedown", { clientX: 600, clientY: 300, bubbles: true }));
window.dispatchEvent(new MouseEvent("mousemove", { clientX: 400, clientY: 300 }));
window.dispatchEvent(new MouseEvent("mouseup", {}));
document.body.dataset.panned = String(range() !== zoomedRange);
</script></body>"#;

#[test]
fn the_timeline_zooms_pans_and_shows_details_on_hover_in_chromium() {
    let Some(browser) = chromium_or_skip() else {
        return;
    };
    let dir = work_dir("interact");
    let page = dir.join("report.html");
    let args = [
        "run",
        "produce-retries",
        "--seed",
        "7",
        "--guarantee",
        "at-least-once",
    ];
    assert_eq!(eosim_html(&args, &page), Some(1));
    let html = std::fs::read_to_string(&page).unwrap();
    std::fs::write(&page, html.replace("</body>", INTERACT)).unwrap();
    let (dom, log) = dump_dom(browser, &dir, &page);
    assert_rendered_and_fitted(&dom, &log, &page);
    assert!(
        dom.contains("data-zoomed=\"true\""),
        "the wheel did not zoom:\n{log}"
    );
    assert!(
        dom.contains("data-tip=\"shown\""),
        "hovering a bar showed nothing"
    );
    assert!(dom.contains("data-panned=\"true\""), "dragging did not pan");
}

/// One page of README's screenshots: what makes it, its file name, and what must show.
struct Shot {
    args: &'static [&'static str],
    name: &'static str,
    exit: i32,
    /// Strings the rendered DOM must hold (drawn or written by the script: not only in the
    /// page's data).
    shows: &'static [&'static str],
}

const SHOTS: &[Shot] = &[
    Shot {
        args: &[
            "run",
            "transactional-copy",
            "--guarantee",
            "at-least-once",
            "--seed",
            "0",
        ],
        name: "copy-at-least-once-duplicate",
        exit: 1,
        // Operation bars, the chain's messages, a crash span.
        shows: &["stroke=\"#ef6c00\"", "data-span="],
    },
    Shot {
        args: &[
            "run",
            "eos-test",
            "--variant",
            "store-not-wiped-on-unclean-shutdown",
            "--seed",
            "5",
        ],
        name: "eos-test-wrong-aggregate",
        exit: 1,
        // The cause: the crash of the node that ran the task, highlighted.
        shows: &[
            "<div class=\"cause\">cause: data-1's task ran on a node that crashed",
            "fill=\"#6a1b9a\"",
        ],
    },
    Shot {
        args: &[
            "run",
            "jepsen-queue",
            "--variant",
            "no-txn-epoch-bump",
            "--seed",
            "20",
        ],
        name: "jepsen-queue-lost-write",
        exit: 1,
        // The cause: the late EndTxn whose abort marker took the write away.
        shows: &[
            "<div class=\"cause\">cause: the abort marker at offset 48",
            "a late EndTxn of an earlier transaction",
            "stroke=\"#6a1b9a\"",
        ],
    },
    Shot {
        args: &["check", "checker/testdata/porcupine/jepsen/etcd_000.log"],
        name: "etcd-not-linearizable",
        exit: 1,
        // The stuck operation in red, the prefix numbered.
        shows: &[
            "<span class=\"stuck\">Process 11's read → 2 (lines 85–86) cannot be placed",
            "fill=\"#e53935\"",
            "the prefix in linearization order (41)",
        ],
    },
];

#[test]
fn readme_pages_fit_1400_by_900_and_show_axis_bars_and_chains() {
    let Some(browser) = chromium_or_skip() else {
        return;
    };
    let dir = work_dir("shots");
    let shots = std::env::var_os("EOSIM_SCREENSHOTS").map_or_else(|| dir.clone(), PathBuf::from);
    std::fs::create_dir_all(&shots).unwrap();
    for shot in SHOTS {
        let page = shots.join(format!("{}.html", shot.name));
        let mut args = shot.args.to_vec();
        let manifest = env!("CARGO_MANIFEST_DIR");
        let file = format!("{manifest}/{}", args.get(1).unwrap());
        if args[0] == "check" {
            args[1] = &file;
        }
        assert_eq!(eosim_html(&args, &page), Some(shot.exit), "{args:?}");
        let (dom, log) = dump_dom(browser, &dir, &page);
        assert_rendered_and_fitted(&dom, &log, &page);
        assert!(
            dom.contains("data-bar="),
            "{}: no operation bars",
            shot.name
        );
        for wanted in shot.shows {
            assert!(dom.contains(wanted), "{}: {wanted:?} not shown", shot.name);
        }
        screenshot(
            browser,
            &dir,
            &page,
            &shots.join(format!("{}.png", shot.name)),
        );
    }
    eprintln!("screenshots in {}", shots.display());
}

#[test]
fn compare_page_shows_a_chart_per_measure_in_chromium() {
    let Some(browser) = chromium_or_skip() else {
        return;
    };
    let dir = work_dir("compare");
    let page = dir.join("compare.html");
    let run = Command::new(env!("CARGO_BIN_EXE_eosim"))
        .args(["compare", "transactional-copy", "--seeds", "0..4", "--html"])
        .arg(&page)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0));
    let (dom, log) = dump_dom(browser, &dir, &page);
    assert!(!log.contains("Uncaught"), "page error:\n{log}");
    // The spread of records per second and of latency p50 and p99 (a box and a dot per
    // seed for each guarantee), failed runs and a chart per anomaly category.
    let charts = 4 + eosim::checker::AnomalyCategory::ALL.len();
    assert_eq!(dom.matches("<svg").count(), charts, "{dom}");
    assert_eq!(dom.matches("<circle").count(), 3 * 2 * 4, "{dom}");
    assert!(dom.contains("at-least-once") && dom.contains("exactly-once"));
    assert!(dom.contains("delivered records per virtual second"));
    assert!(dom.contains("id=\"failing\""));
    let measured = measured_copy(&page);
    let (dom, log) = dump_dom(browser, &dir, &measured);
    assert_rendered_and_fitted(&dom, &log, &measured);
}

#[test]
fn sweep_page_marks_kinds_over_seeds_and_links_run_pages_in_chromium() {
    let Some(browser) = chromium_or_skip() else {
        return;
    };
    let dir = work_dir("sweep");
    let page = dir.join("sweep.html");
    let run = Command::new(env!("CARGO_BIN_EXE_eosim"))
        .args([
            "sweep",
            "produce-retries",
            "--seeds",
            "0..3",
            "--variant",
            "no-dedup",
        ])
        .arg("--html")
        .arg(&page)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1), "no-dedup fails");
    let (dom, log) = dump_dom(browser, &dir, &page);
    assert!(!log.contains("Uncaught"), "page error:\n{log}");
    assert!(dom.contains("id=\"kinds\"") && dom.contains("id=\"coverage\""));
    // Each failing seed links its run page, written beside the sweep's.
    assert!(dom.contains("href=\"sweep-seed-0.html\""), "{dom}");
    assert!(dir.join("sweep-seed-0.html").exists());
    let measured = measured_copy(&page);
    let (dom, log) = dump_dom(browser, &dir, &measured);
    assert_rendered_and_fitted(&dom, &log, &measured);
}

/// Needs no browser: `check --html` on a history that is not a linearizability check is bad
/// input, and says what to run instead.
#[test]
fn check_html_of_a_run_history_is_bad_input_naming_the_run_page() {
    let dir = work_dir("check-html");
    let history = dir.join("history.jsonl");
    let run = Command::new(env!("CARGO_BIN_EXE_eosim"))
        .args(["run", "produce-retries", "--seed", "1", "--history"])
        .arg(&history)
        .output()
        .unwrap();
    assert!(run.status.code().is_some());
    let check = Command::new(env!("CARGO_BIN_EXE_eosim"))
        .arg("check")
        .arg(&history)
        .arg("--html")
        .arg(dir.join("page.html"))
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(
        stderr.contains("--html draws linearizability checks only")
            && stderr.contains("eosim run <scenario> --seed N --html FILE"),
        "{stderr}"
    );
    assert!(!dir.join("page.html").exists());
}

/// The soak's and the hunt's pages: static tables that render and fit the window.
#[test]
fn soak_and_hunt_pages_render_in_chromium() {
    let Some(browser) = chromium_or_skip() else {
        return;
    };
    let dir = work_dir("batch");
    let soak = dir.join("soak.html");
    let hunt = dir.join("hunt.html");
    let soak_run = Command::new(env!("CARGO_BIN_EXE_eosim"))
        .args([
            "soak",
            "--seeds-per-scenario",
            "1",
            "--swarm",
            "off",
            "--html",
        ])
        .arg(&soak)
        .output()
        .unwrap();
    assert_eq!(soak_run.status.code(), Some(0), "{soak_run:?}");
    let hunt_run = Command::new(env!("CARGO_BIN_EXE_eosim"))
        .args(["hunt", "no-dedup", "--html"])
        .arg(&hunt)
        .output()
        .unwrap();
    assert_eq!(hunt_run.status.code(), Some(0), "{hunt_run:?}");
    for (page, table) in [(&soak, "id=\"sweeps\""), (&hunt, "id=\"hunt\"")] {
        let measured = measured_copy(page);
        let (dom, log) = dump_dom(browser, &dir, &measured);
        assert!(dom.contains(table), "{page:?}: {dom}");
        assert_rendered_and_fitted(&dom, &log, &measured);
    }
}
