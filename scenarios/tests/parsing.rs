//! Bad scenarios get a clear error naming the file, line and field; never a panic.

mod common;

use common::{PRODUCE, QUEUE, err, with};
use scenarios::AppSpec;
use scenarios::Scenario;

#[test]
fn the_minimal_scenario_parses_with_documented_defaults() {
    let s = Scenario::parse(PRODUCE, "good.toml").unwrap();
    assert_eq!(s.guarantee, model::Guarantee::ExactlyOnce);
    assert_eq!(s.faults.phase_ms, 5_000);
    let AppSpec::Produce(produce) = &s.app else {
        panic!("{:?}", s.app)
    };
    assert_eq!(produce.producers, 3);
    assert!(s.faults.mix.is_none() && s.faults.plan.is_empty());
}

#[test]
fn unknown_key_names_file_line_and_field() {
    let e = err(&with(PRODUCE, "[app.produce]\nproducers = 2\nvalues = 4"));
    assert!(e.starts_with("bad.toml:9:1:"), "{e}");
    assert!(
        e.contains("field `app.produce.values`") && e.contains("expected one of"),
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
fn a_plan_fault_without_a_kind_names_the_field_as_the_file_writes_it() {
    let plan = "[[faults.plan]]\nat_ms = 10\naction = \"restart\"\nnode = \"broker-1\"\n";
    let e = err(&format!("{PRODUCE}{plan}"));
    assert!(e.contains("field `faults.plan[0].kind`"), "{e}");
    assert!(!e.contains("serde_spanned"), "{e}");
}

#[test]
fn the_shipped_bad_example_is_rejected_as_readme_shows() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/bad-restart.toml");
    let text = std::fs::read_to_string(path).expect("shipped");
    let e = scenarios::Scenario::parse(&text, "bad-restart.toml")
        .expect_err("an impossible plan")
        .to_string();
    assert!(
        e.contains("bad-restart.toml:13:1: field `faults.plan[0]`: impossible fault (restart broker-1): cannot restart broker-1: it is running at that time"),
        "{e}"
    );
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
    let e = err("name = \"s\"\nguarantee = \n");
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
    let AppSpec::JepsenQueue(queue) = &s.app else {
        panic!("{:?}", s.app)
    };
    assert_eq!(queue.clients, 4);
    assert_eq!(
        scenarios::app::queue::queue_partitions(queue, &s.cluster).len(),
        2
    );
    assert_eq!(
        s.crash_targets(),
        vec!["broker-1", "broker-2"],
        "clients only if asked"
    );
    let e = err(&with(QUEUE, "[app.jepsen-queue]\nclients = 2\nthreads = 3"));
    assert!(
        e.starts_with("bad.toml:9:1:") && e.contains("app.jepsen-queue.threads"),
        "{e}"
    );
    let e = err(&with(QUEUE, "[app.jepsen-queue]\nclients = 0"));
    assert!(
        e.contains("app.jepsen-queue.clients") && e.contains("at least 1"),
        "{e}"
    );
    let e = err(&with(QUEUE, "[app.jepsen-queue]\ntopics = [\"t\", \"u\"]"));
    assert!(
        e.contains("app.jepsen-queue.topics[1]") && e.contains("not a topic"),
        "{e}"
    );
    let e = err(&with(PRODUCE, "[app.jepsen-queue]\nclients = 2"));
    assert!(
        e.contains("field `app`") && e.contains("exactly one app table"),
        "{e}"
    );
    let s = Scenario::parse(
        &with(QUEUE, "[app.jepsen-queue]\ncrash_clients = true"),
        "q.toml",
    )
    .unwrap();
    assert!(s.crash_targets().contains(&"client-1".to_string()));
}

#[test]
fn copy_section_takes_group_assignment_and_producer_scope() {
    let copy = r#"
name = "z"
[cluster]
brokers = 1
topics = [{ name = "input", partitions = 2 }, { name = "output", partitions = 2 }]
[app.transactional-copy]
assignment = "group"
producers = "per-task"
session_timeout_ms = 500
"#;
    let s = Scenario::parse(copy, "z.toml").unwrap();
    let AppSpec::TransactionalCopy(w) = &s.app else {
        panic!("{:?}", s.app)
    };
    assert_eq!(w.assignment, model::apps::copy::CopyAssignment::Group);
    assert_eq!(w.producers, model::apps::copy::ProducerScope::PerTask);
    assert_eq!(w.session_timeout_ms, 500);
    let e = Scenario::parse(&copy.replace("\"per-task\"", "\"per-thread\""), "z.toml")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("app.transactional-copy.producers") && e.contains("per-instance"),
        "{e}"
    );
}

#[test]
fn impossible_pause_mixes_are_rejected_with_the_reason() {
    let copy = r#"
name = "z"
[app.transactional-copy]
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

#[test]
fn the_app_table_names_one_known_app() {
    let e = err(&PRODUCE.replace("[app.produce]\n", ""));
    assert!(
        e.contains("field `app`") && e.contains("one of produce, transactional-copy"),
        "{e}"
    );
    let e = err(&PRODUCE.replace("[app.produce]", "[app.kafka-connect]"));
    assert!(
        e.starts_with("bad.toml:3:") && e.contains("unknown variant `kafka-connect`"),
        "{e}"
    );
}

#[test]
fn a_written_scenario_holds_only_its_own_app() {
    // A shrunk regression is written back with toml: only the app it runs is in it.
    let s = Scenario::parse(QUEUE, "q.toml").unwrap();
    let written = toml::to_string(&s).unwrap();
    assert!(written.contains("[app.jepsen-queue]"), "{written}");
    for other in ["produce", "transactional-copy", "streams", "workload"] {
        assert!(!written.contains(&format!("[app.{other}]")), "{written}");
    }
    assert_eq!(Scenario::parse(&written, "again.toml").unwrap(), s);
}

/// Every scenario file shipped for users (README's examples, the talk's setups) parses and
/// validates, but `bad-restart.toml`, which shows an impossible plan's error.
#[test]
fn every_shipped_scenario_file_parses() {
    let mut checked = 0;
    for dir in ["examples", "talk"] {
        let path = format!("{}/{dir}", env!("CARGO_MANIFEST_DIR"));
        for entry in std::fs::read_dir(&path).expect("the folder is shipped") {
            let file = entry.unwrap().path();
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            if !name.ends_with(".toml") || name == "bad-restart.toml" {
                continue;
            }
            let text = std::fs::read_to_string(&file).unwrap();
            if let Err(e) = scenarios::Scenario::parse(&text, &name) {
                panic!("{dir}/{name}: {e}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} files found");
}

/// `compare` names the cost model: none for a scenario without costs, per-message for the
/// copy's cost-model example, shared resources for the talk's setups, with every knob set.
#[test]
fn a_scenario_names_its_cost_model_and_knobs() {
    let read = |path: &str| {
        let file = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
        Scenario::parse(&std::fs::read_to_string(&file).unwrap(), path).unwrap()
    };
    let plain = Scenario::parse(PRODUCE, "p.toml").unwrap();
    assert_eq!(plain.cost_model(), ("none", Default::default()));
    let (kind, knobs) = read("examples/copy-cost-model.toml").cost_model();
    assert_eq!(kind, "per-message");
    assert_eq!(knobs["network.transfer_us_per_kib"], 100);
    let (kind, knobs) = read("talk/eos-vs-alos-500b.toml").cost_model();
    assert_eq!(kind, "shared-resources");
    assert_eq!(knobs["network.link_mbit_per_s"], 400);
    assert_eq!(knobs["cluster.request_threads"], 8);
    assert_eq!(knobs["network.record_bytes"], 500);
    // Background sending decides when the output takes the links: it is part of the model.
    assert_eq!(knobs["app.streams.producer_batch_bytes"], 16_384);
    assert_eq!(knobs["app.streams.producer_buffer_bytes"], 32 * 1024 * 1024);
    // Replication traffic and at-least-once's acks=1 are part of it too.
    assert_eq!(knobs["cluster.replication_factor"], 3);
    assert_eq!(knobs["cluster.non_idempotent_acks_leader"], 1);
    // How a poll fetches is part of it too; a file that leaves it at its default does not name it.
    assert_eq!(knobs["app.streams.fetch_all_at_once"], 1);
    let task_by_task = Scenario::parse(
        &std::fs::read_to_string(format!(
            "{}/talk/eos-vs-alos-500b.toml",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
        .replace("fetch_all_at_once = true\n", ""),
        "task-by-task.toml",
    )
    .unwrap();
    assert!(
        !task_by_task
            .cost_model()
            .1
            .contains_key("app.streams.fetch_all_at_once")
    );
    assert_eq!(knobs["cluster.sync_us"], 2250);
    assert!(
        !plain
            .cost_model()
            .1
            .contains_key("cluster.replication_factor"),
        "the default of one replica is not a knob set"
    );
    assert!(
        !knobs.contains_key("network.message_overhead_us"),
        "{knobs:?}"
    );
}
