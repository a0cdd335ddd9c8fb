//! Writes the generated consume-transform-produce history of the check_all bench (about
//! 600,000 ops) as JSON Lines, for timing `eosim check FILE` as a process:
//!
//!     cargo run --release -p eosim-checker --example gen_eos_history -- FILE [INPUTS]

#[path = "../benches/history_gen.rs"]
mod history_gen;

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: gen_eos_history FILE [INPUTS]";
    let file = args.next().expect(usage);
    let inputs = args.next().map_or(history_gen::INPUTS_FOR_600K_OPS, |n| {
        n.parse().expect(usage)
    });
    let history = history_gen::consume_transform_produce(inputs);
    std::fs::write(&file, history.to_jsonl()).expect("writable file");
    let (ops, steps, polled, logged) = history_gen::composition(&history);
    eprintln!(
        "{file}: {ops} ops, {steps} txn steps, {polled} polled records, {logged} final-log records"
    );
}
