//! Ctrl-C for long runs (`sweep`, `compare`, `shrink`, and any later long-running command):
//! the first SIGINT sets a flag that the run checks between seeds (or candidate runs), so it
//! stops starting new work, reports what finished, writes the files asked for and exits with
//! [`EXIT_CODE`]; a second SIGINT exits at once with the same code.
//!
//! ```no_run
//! let stop = eosim::interrupt::install().expect("a Ctrl-C handler");
//! // … run seeds with eosim::sim::for_each_seed(…, &stop, …), or poll eosim::interrupt::requested()
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// The conventional exit code of a program ended by SIGINT (128 + 2).
pub const EXIT_CODE: u8 = 130;

static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// The flag the handler sets (shared with seed pools).
pub fn flag() -> &'static Arc<AtomicBool> {
    FLAG.get_or_init(|| Arc::new(AtomicBool::new(false)))
}

/// Whether Ctrl-C was pressed since [`install`].
pub fn requested() -> bool {
    flag().load(Ordering::Relaxed)
}

/// Installs the handler (once per process; a second call returns the same flag).
pub fn install() -> Result<Arc<AtomicBool>, String> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            ctrlc::set_handler(|| {
                if flag().swap(true, Ordering::Relaxed) {
                    say("eosim: interrupted again: quitting at once");
                    std::process::exit(i32::from(EXIT_CODE));
                }
                say("eosim: interrupted: reporting what has finished (Ctrl-C again to quit at once)");
            })
            .map_err(|e| format!("cannot install a Ctrl-C handler: {e}"))
        })
        .clone()?;
    Ok(flag().clone())
}

/// Prints a line on stderr; on a terminal it first clears the line, where a progress line
/// may be drawn (`crate::progress`), so the message replaces it instead of trailing it.
fn say(message: &str) {
    use std::io::IsTerminal;
    let clear = if std::io::stderr().is_terminal() {
        "\r\x1b[2K"
    } else {
        ""
    };
    eprintln!("{clear}{message}");
}
