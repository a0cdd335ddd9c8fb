use std::time::{Duration, Instant};
use checker::lin::*;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let format: Format = args[2].parse().unwrap();
    let model: ModelName = args[3].parse().unwrap();
    let partition = args.get(4).map(|s| s != "nopart").unwrap_or(true);
    let budget = args.get(5).map(|s| Duration::from_secs(s.parse().unwrap())).unwrap_or(Duration::from_secs(60));
    let options = CheckOptions { partition, time_budget: Some(budget), ..CheckOptions::default() };
    let text = std::fs::read_to_string(&args[1]).unwrap();
    let prepared = PreparedHistory::parse(&text, format, &options).unwrap();
    let start = Instant::now();
    let report = prepared.check(model, &options).unwrap();
    println!("{:?} {} search_steps={} model_steps={} {:?}", report.verdict, args[1], report.search_steps, report.model_steps, start.elapsed());
    if std::env::var("PARTS").is_ok() {
        for p in &report.partitions { println!("  {} ops={} {:?} steps={} model={} states={}", p.partition, p.operations, p.verdict, p.search_steps, p.model_steps, p.distinct_states); }
    }
}
