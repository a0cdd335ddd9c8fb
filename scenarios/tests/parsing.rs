//! Bad scenarios get a clear error naming the file, line and field; never a panic.

mod common;

use common::{PRODUCE, QUEUE, err};
use scenarios::Scenario;

#[test]
fn the_minimal_scenario_parses_with_documented_defaults() {
    let s = Scenario::parse(PRODUCE, "good.toml").unwrap();
    assert_eq!(s.guarantee, model::Guarantee::ExactlyOnce);
    assert_eq!(s.faults.phase_ms, 5_000);
    assert_eq!(s.workload.producers, 3);
    assert!(s.faults.mix.is_none() && s.faults.plan.is_empty());
}

#[test]
fn unknown_key_names_file_line_and_field() {
    let e = err(&format!("{PRODUCE}[workload]\nproducers = 2\nvalues = 4\n"));
    assert!(e.starts_with("bad.toml:9:1:"), "{e}");
    assert!(
        e.contains("field `workload.values`") && e.contains("expected one of"),
        "{e}"
    );
}

#[test]
fn wrong_type_names_the_field() {
    let e = err(&PRODUCE.replace("brokers = 2", "brokers = \"two\""));
    assert!(e.starts_with("bad.toml:5:"), "{e}");
    assert!(e.contains("cluster.brokers"), "{e}");
}

#[test]
fn unknown_guarantee_lists_the_known_ones() {
    let e = err(&format!("guarantee = \"twice\"\n{PRODUCE}"));
    assert!(e.starts_with("bad.toml:1:"), "{e}");
    assert!(e.contains("exactly-once"), "{e}");
}

#[test]
fn impossible_fault_plan_is_rejected_with_the_reason_and_line() {
    let plan = "[[faults.plan]]\nat_ms = 10\nkind = \"restart\"\nnode = \"broker-1\"\n";
    let e = err(&format!("{PRODUCE}{plan}"));
    assert!(
        e.starts_with("bad.toml:7:1:"),
        "the [[faults.plan]] entry: {e}"
    );
    assert!(
        e.contains("faults.plan[0]") && e.contains("it is running"),
        "{e}"
    );
    let plan = "[[faults.plan]]\nat_ms = 10\nkind = \"crash\"\nnode = \"broker-7\"\n";
    assert!(err(&format!("{PRODUCE}{plan}")).contains("unknown node \"broker-7\""));
    let plan = "[[faults.plan]]\nat_ms = 10\nkind = \"lose-acks\"\nfrom = \"nobody\"\ncount = 1\n";
    assert!(err(&format!("{PRODUCE}{plan}")).contains("unknown node \"nobody\""));
}

#[test]
fn unknown_fault_field_is_an_error() {
    let plan = "[[faults.plan]]\nat_ms = 10\nkind = \"crash\"\nnode = \"broker-1\"\nforce = true\n";
    let e = err(&format!("{PRODUCE}{plan}"));
    assert!(e.contains("force"), "{e}");
}

#[test]
fn semantic_errors_name_the_field() {
    assert!(
        err(&PRODUCE.replace("brokers = 2", "brokers = 0")).contains("field `cluster.brokers`")
    );
    assert!(
        err(&PRODUCE.replace("partitions = 2", "partitions = 0"))
            .contains("cluster.topics[0].partitions")
    );
    let e = err(&format!("{PRODUCE}[expect.sometimes]\nanomalies = []\n"));
    assert!(
        e.contains("expect.sometimes") && e.contains("unknown guarantee"),
        "{e}"
    );
}

#[test]
fn malformed_toml_names_the_line() {
    let e = err("name = \"s\"\napplication = \n");
    assert!(e.starts_with("bad.toml:2:"), "{e}");
}

#[test]
fn mix_message_takes_one_kind_or_a_list() {
    let one = format!("{PRODUCE}[faults.mix]\nmessage = \"produce\"\n");
    let s = Scenario::parse(&one, "one.toml").unwrap();
    let kinds = s.faults.mix.unwrap().message.unwrap();
    assert_eq!(kinds, sim::MessageKinds::one("produce"));
    let two = format!("{PRODUCE}[faults.mix]\nmessage = [\"end-txn\", \"produce\"]\n");
    let s = Scenario::parse(&two, "two.toml").unwrap();
    assert_eq!(
        s.faults.mix.unwrap().message.unwrap().0,
        vec!["end-txn", "produce"]
    );
}

#[test]
fn bad_mix_message_kinds_name_the_field() {
    let e = err(&format!("{PRODUCE}[faults.mix]\nmessage = []\n"));
    assert!(e.starts_with("bad.toml:8:"), "{e}");
    assert!(
        e.contains("faults.mix.message") && e.contains("empty list"),
        "{e}"
    );
    let e = err(&format!(
        "{PRODUCE}[faults.mix]\nmessage = [\"end-txn\", \"endtxn\"]\n"
    ));
    assert!(
        e.contains("faults.mix.message") && e.contains("unknown message kind \"endtxn\""),
        "{e}"
    );
    let plan =
        "[[faults.plan]]\nat_ms = 10\nkind = \"drop-requests\"\nmessage = \"prodce\"\ncount = 1\n";
    let e = err(&format!("{PRODUCE}{plan}"));
    assert!(e.starts_with("bad.toml:7:1:"), "{e}");
    assert!(
        e.contains("faults.plan[0]") && e.contains("unknown message kind"),
        "{e}"
    );
}

#[test]
fn queue_section_is_strict_and_validated() {
    let s = Scenario::parse(QUEUE, "q.toml").unwrap();
    assert_eq!(s.queue_workload().clients, 4);
    assert_eq!(s.queue_partitions().len(), 2);
    assert_eq!(
        s.crash_targets(),
        vec!["broker-1", "broker-2"],
        "clients only if asked"
    );
    let e = err(&format!("{QUEUE}[queue]\nclients = 2\nthreads = 3\n"));
    assert!(
        e.starts_with("bad.toml:9:1:") && e.contains("queue.threads"),
        "{e}"
    );
    let e = err(&format!("{QUEUE}[queue]\nclients = 0\n"));
    assert!(
        e.contains("queue.clients") && e.contains("at least 1"),
        "{e}"
    );
    let e = err(&format!("{QUEUE}[queue]\ntopics = [\"t\", \"u\"]\n"));
    assert!(
        e.contains("queue.topics[1]") && e.contains("not a topic"),
        "{e}"
    );
    let e = err(&format!("{PRODUCE}[queue]\nclients = 2\n"));
    assert!(
        e.contains("field `queue`") && e.contains("jepsen-queue"),
        "{e}"
    );
    let s = Scenario::parse(&format!("{QUEUE}[queue]\ncrash_clients = true\n"), "q.toml").unwrap();
    assert!(s.crash_targets().contains(&"client-1".to_string()));
}

#[test]
fn copy_section_takes_group_assignment_and_producer_scope() {
    let copy = r#"
name = "z"
application = "transactional-copy"
[cluster]
brokers = 1
topics = [{ name = "input", partitions = 2 }, { name = "output", partitions = 2 }]
[copy]
assignment = "group"
producers = "per-task"
session_timeout_ms = 500
"#;
    let s = Scenario::parse(copy, "z.toml").unwrap();
    let w = s.copy_workload();
    assert_eq!(w.assignment, model::apps::copy::CopyAssignment::Group);
    assert_eq!(w.producers, model::apps::copy::ProducerScope::PerTask);
    assert_eq!(w.session_timeout_ms, 500);
    let e = Scenario::parse(&copy.replace("\"per-task\"", "\"per-thread\""), "z.toml")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("copy.producers") && e.contains("per-instance"),
        "{e}"
    );
}

#[test]
fn impossible_pause_mixes_are_rejected_with_the_reason() {
    let copy = r#"
name = "z"
application = "transactional-copy"
[cluster]
brokers = 1
topics = [{ name = "input", partitions = 2 }, { name = "output", partitions = 2 }]
[faults.mix]
pause = 1
min_outage_ms = 3000
max_outage_ms = 2000
"#;
    let e = Scenario::parse(copy, "z.toml").unwrap_err().to_string();
    assert!(
        e.contains("faults.mix.min_outage_ms") && e.contains("2000"),
        "{e}"
    );
    let targets = copy
        .replace("min_outage_ms = 3000", "targets = [\"copier-9\"]")
        .to_string();
    let e = Scenario::parse(&targets, "z.toml").unwrap_err().to_string();
    assert!(
        e.contains("faults.mix.targets") && e.contains("copier-9") && e.contains("copier-1"),
        "{e}"
    );
}
