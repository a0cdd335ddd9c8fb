//! Every size in a scenario is bounded (`scenarios::limits`), and every rejection names the
//! file, the line and column, and the field — semantic errors, syntax errors and invalid
//! UTF-8 alike.

mod common;

use common::{COPY, PRODUCE, QUEUE, STREAMS, accepts, rejects, with};
use scenarios::Scenario;
use scenarios::limits::*;

/// `base` with `field` ("section.key") set to `value` in its section is rejected, naming the
/// field on line 8.
#[track_caller]
fn rejects_value(base: &str, field: &str, value: &str) -> String {
    let (section, key) = field.rsplit_once('.').expect("section.key");
    rejects(
        &with(base, &format!("[{section}]\n{key} = {value}")),
        8,
        field,
    )
}

#[test]
fn cluster_sizes_are_bounded() {
    let e = rejects(
        &PRODUCE.replace("brokers = 2", "brokers = 33"),
        5,
        "cluster.brokers",
    );
    assert!(e.contains("at most 32"), "{e}");
    accepts(&PRODUCE.replace("brokers = 2", "brokers = 32"));
    rejects(
        &PRODUCE.replace("partitions = 2", "partitions = 257"),
        6,
        "cluster.topics[0].partitions",
    );
    let topics: Vec<String> = (0..=MAX_TOPICS)
        .map(|i| format!("{{ name = \"t{i}\", partitions = 1 }}"))
        .collect();
    let many = PRODUCE.replace(
        "[{ name = \"t\", partitions = 2 }]",
        &format!("[{}]", topics.join(", ")),
    );
    rejects(&many, 6, "cluster.topics");
    let big = PRODUCE.replace(
        "[{ name = \"t\", partitions = 2 }]",
        "[{ name = \"a\", partitions = 256 }, { name = \"b\", partitions = 256 }, { name = \"c\", partitions = 256 }, { name = \"d\", partitions = 256 }, { name = \"e\", partitions = 1 }]",
    );
    let e = rejects(&big, 6, "cluster.topics");
    assert!(e.contains("1025 partitions"), "{e}");
    let long = PRODUCE.replace("name = \"t\"", &format!("name = \"{}\"", "x".repeat(250)));
    rejects(&long, 6, "cluster.topics[0].name");
    rejects(
        &PRODUCE.replace("brokers = 2", "brokers = 2\nsync_us = 1000001"),
        6,
        "cluster.sync_us",
    );
}

#[test]
fn streams_topics_count_towards_the_partition_bound() {
    // eos-test makes 4 more topics of the data topic's partitions: 5 x 256 > 1,024.
    let e = rejects(
        &STREAMS.replace("partitions = 5", "partitions = 256"),
        6,
        "cluster.topics",
    );
    assert!(e.contains("changelog"), "{e}");
}

#[test]
fn produce_workload_is_bounded() {
    rejects_value(PRODUCE, "app.produce.producers", "257");
    rejects_value(PRODUCE, "app.produce.values_per_producer", "4294967295");
    let e = rejects(
        &with(
            PRODUCE,
            "[app.produce]\nproducers = 200\nvalues_per_producer = 1000",
        ),
        9,
        "app.produce.values_per_producer",
    );
    assert!(e.contains("200000 values"), "{e}");
    accepts(&with(
        PRODUCE,
        "[app.produce]\nproducers = 100\nvalues_per_producer = 1000",
    ));
    rejects_value(PRODUCE, "app.produce.send_interval_ms", "60001");
}

#[test]
fn a_lossy_network_takes_a_tenth_of_the_workload() {
    let lossy = "[network]\nloss = 0.01\n";
    let e = rejects(
        &with(
            PRODUCE,
            &format!("{lossy}[app.produce]\nproducers = 10\nvalues_per_producer = 1001"),
        ),
        11,
        "app.produce.values_per_producer",
    );
    assert!(e.contains("lossy"), "{e}");
    accepts(&with(
        PRODUCE,
        "[app.produce]\nproducers = 10\nvalues_per_producer = 1001",
    ));
    rejects(
        &with(
            COPY,
            &format!("{lossy}[app.transactional-copy]\nvalues = 2001"),
        ),
        10,
        "app.transactional-copy.values",
    );
    rejects(
        &with(
            QUEUE,
            &format!("{lossy}[app.jepsen-queue]\nclients = 4\nops_per_client = 1001"),
        ),
        11,
        "app.jepsen-queue.ops_per_client",
    );
    rejects(
        &with(STREAMS, &format!("{lossy}[app.streams]\nrecords = 50001")),
        10,
        "app.streams.records",
    );
}

#[test]
fn copy_workload_is_bounded() {
    rejects_value(COPY, "app.transactional-copy.instances", "65");
    rejects_value(COPY, "app.transactional-copy.values", "20001");
    rejects_value(COPY, "app.transactional-copy.commit_every", "10001");
    rejects_value(COPY, "app.transactional-copy.txn_timeout_ms", "0");
    rejects_value(COPY, "app.transactional-copy.txn_timeout_ms", "300001");
}

#[test]
fn session_timeouts_must_exceed_the_heartbeat_interval() {
    // GroupMember asserts heartbeat_interval_ms (100) < session_timeout_ms: a session of
    // 100 ms or less made the model panic.
    let group = "[app.transactional-copy]\nassignment = \"group\"\nsession_timeout_ms = 100";
    let e = rejects(
        &with(COPY, group),
        9,
        "app.transactional-copy.session_timeout_ms",
    );
    assert!(e.contains("heartbeat interval of 100 ms"), "{e}");
    accepts(&with(COPY, &group.replace("= 100", "= 101")));
    rejects(
        &with(COPY, &group.replace("= 100", "= 300001")),
        9,
        "app.transactional-copy.session_timeout_ms",
    );
    rejects_value(STREAMS, "app.streams.session_timeout_ms", "0");
}

#[test]
fn queue_workload_is_bounded() {
    rejects_value(QUEUE, "app.jepsen-queue.clients", "129");
    rejects_value(QUEUE, "app.jepsen-queue.ops_per_client", "10001");
    let e = rejects(
        &with(
            QUEUE,
            "[app.jepsen-queue]\nclients = 64\nops_per_client = 1000",
        ),
        9,
        "app.jepsen-queue.ops_per_client",
    );
    assert!(e.contains("64000 operations"), "{e}");
    rejects_value(QUEUE, "app.jepsen-queue.max_txn_len", "101");
    let e = rejects(
        &with(
            QUEUE,
            "[app.jepsen-queue]\nclients = 40\nops_per_client = 1000\nmax_txn_len = 5",
        ),
        10,
        "app.jepsen-queue.max_txn_len",
    );
    assert!(e.contains("200000"), "{e}");
    accepts(&with(
        QUEUE,
        "[app.jepsen-queue]\nclients = 40\nops_per_client = 1000\nmax_txn_len = 4",
    ));
    rejects_value(QUEUE, "app.jepsen-queue.op_interval_ms", "60001");
    rejects_value(QUEUE, "app.jepsen-queue.intra_txn_delay_ms", "60001");
    rejects_value(QUEUE, "app.jepsen-queue.max_poll_records", "101");
    rejects_value(QUEUE, "app.jepsen-queue.txn_timeout_ms", "300001");
}

#[test]
fn streams_workload_is_bounded() {
    // More instances than input partitions is fine: the idle ones wait.
    accepts(&with(STREAMS, "[app.streams]\ninstances = 6"));
    rejects(
        &with(
            &STREAMS.replace("partitions = 5", "partitions = 40"),
            "[app.streams]\ninstances = 33",
        ),
        8,
        "app.streams.instances",
    );
    rejects_value(STREAMS, "app.streams.records", "500001");
    // A key's sum of inputs must fit in an i32: at most 100,000 records per key.
    let e = rejects(
        &with(STREAMS, "[app.streams]\nrecords = 100001\nkeys = 1"),
        8,
        "app.streams.records",
    );
    assert!(e.contains("at most 100000 records per key"), "{e}");
    accepts(&with(STREAMS, "[app.streams]\nrecords = 200000\nkeys = 2"));
    // Word count ignores `keys` (its words are its keys), so the rule is not its.
    let word_count = STREAMS.replace("\"data\"", "\"lines\"");
    accepts(&with(
        &word_count,
        "[app.streams]\ntopology = \"word-count\"\nrecords = 150000\nkeys = 1",
    ));
    rejects_value(STREAMS, "app.streams.commit_interval_ms", "60001");
    rejects_value(STREAMS, "app.streams.commit_interval_records", "500001");
    rejects_value(STREAMS, "app.streams.txn_timeout_ms", "0");
    rejects_value(STREAMS, "app.streams.request_timeout_ms", "0");
    rejects_value(STREAMS, "app.streams.request_timeout_ms", "300001");
    rejects_value(STREAMS, "app.streams.producer_batch_bytes", "16777217");
    rejects_value(STREAMS, "app.streams.producer_buffer_bytes", "0");
    rejects_value(STREAMS, "app.streams.producer_buffer_bytes", "1073741825");
    rejects_value(STREAMS, "app.streams.max_input_pause_ms", "10001");
}

#[test]
fn network_is_bounded() {
    for (key, value) in [
        ("latency_max_us", "1000001"),
        ("message_overhead_us", "1000001"),
        ("record_bytes", "1048577"),
        ("transfer_us_per_kib", "10001"),
        ("link_mbit_per_s", "1000001"),
        ("message_bytes", "1048577"),
        ("client_message_us", "1000001"),
        ("client_record_us", "10001"),
    ] {
        rejects_value(PRODUCE, &format!("network.{key}"), value);
    }
}

#[test]
fn fault_times_fit_the_simulated_time_limit() {
    // 4294967295 ms ran past madsim's 3,600 s limit: a panic instead of a verdict.
    let e = rejects_value(PRODUCE, "faults.phase_ms", "4294967295");
    assert!(e.contains("at most 600000"), "{e}");
    rejects_value(PRODUCE, "faults.heal_deadline_ms", "600001");
    accepts(&with(
        PRODUCE,
        "[faults]\nphase_ms = 600000\nheal_deadline_ms = 600000",
    ));
    assert!(longest_run_ms(MAX_PHASE_MS, MAX_HEAL_DEADLINE_MS) < SIM_TIME_LIMIT_MS);
}

#[test]
fn fault_counts_are_bounded() {
    let drop = |count: &str| {
        format!("[[faults.plan]]\nat_ms = 10\nkind = \"drop-requests\"\ncount = {count}\n")
    };
    rejects(&with(PRODUCE, &drop("101")), 10, "faults.plan[0].count");
    accepts(&with(PRODUCE, &drop("100")));
    let many = drop("1").repeat(MAX_PLAN_FAULTS + 1);
    // Entry 64 starts on line 7 + 4 x 64.
    rejects(&with(PRODUCE, &many), 7 + 4 * 64, "faults.plan[64]");
    let delay = "[[faults.plan]]\nat_ms = 10\nkind = \"delay\"\ndirection = \"request\"\nextra_ms = 600001\ncount = 1";
    rejects(&with(PRODUCE, delay), 11, "faults.plan[0].extra_ms");
    let stop =
        "[[faults.plan]]\nat_ms = 10\nkind = \"stop\"\nnode = \"broker-1\"\ngrace_ms = 600001";
    rejects(&with(PRODUCE, stop), 11, "faults.plan[0].grace_ms");
    for (key, value) in [
        ("count", "65"),
        ("lose_acks", "1001"),
        ("max_messages", "101"),
        ("max_delay_ms", "600001"),
        ("max_outage_ms", "600001"),
    ] {
        rejects_value(PRODUCE, &format!("faults.mix.{key}"), value);
    }
}

#[test]
fn background_work_over_a_long_run_is_bounded() {
    // 5 instances x 20 tasks heartbeating and fetching for 1,200 s: millions of messages.
    let long = with(
        &STREAMS.replace("partitions = 5", "partitions = 20"),
        "[app.streams]\ninstances = 5\n[faults]\nphase_ms = 600000\nheal_deadline_ms = 600000",
    );
    let e = rejects(&long, 11, "faults.heal_deadline_ms");
    assert!(e.contains("MAX_BACKGROUND_MESSAGES"), "{e}");
    accepts(&with(
        STREAMS,
        "[faults]\nphase_ms = 60000\nheal_deadline_ms = 60000",
    ));
}

#[test]
fn semantic_errors_name_the_line_of_their_field() {
    // These were reported without a line: validation runs after parsing.
    rejects(
        &PRODUCE.replace("brokers = 2", "brokers = 0"),
        5,
        "cluster.brokers",
    );
    rejects_value(PRODUCE, "network.loss", "1.5");
    rejects(
        &with(PRODUCE, "[faults]\nphase_ms = 10\nheal_deadline_ms = 0"),
        9,
        "faults.heal_deadline_ms",
    );
    rejects(
        &with(
            PRODUCE,
            "[faults.mix]\nmin_outage_ms = 5\nmax_outage_ms = 4",
        ),
        8,
        "faults.mix.min_outage_ms",
    );
    // A field left at its default is shown at its section.
    let copy = COPY.replace("name = \"output\"", "name = \"out\"");
    rejects(
        &with(&copy, "[app.transactional-copy]\nvalues = 10"),
        7,
        "app.transactional-copy.output_topic",
    );
    // Without the key, at its table.
    rejects(&copy, 3, "app.transactional-copy.output_topic");
}

#[test]
fn a_missing_field_is_named() {
    let e = rejects(&PRODUCE.replace("name = \"s\"\n", ""), 1, "name");
    assert!(e.contains("missing field"), "{e}");
    rejects(&PRODUCE.replace("brokers = 2\n", ""), 4, "cluster.brokers");
}

#[test]
fn syntax_errors_name_the_line_and_field() {
    rejects(&PRODUCE.replace("[app.produce]", "applic"), 3, "applic");
    rejects(
        &PRODUCE.replace("brokers = 2", "brokers = 2x"),
        5,
        "cluster.brokers",
    );
    rejects(
        &with(PRODUCE, "[faults]\nphase_ms = 1\x01"),
        8,
        "faults.phase_ms",
    );
}

#[test]
fn invalid_utf8_names_the_file_line_and_byte() {
    let mut bytes = PRODUCE
        .replace("brokers = 2", "brokers = 2 # ")
        .into_bytes();
    let at = bytes.iter().position(|&b| b == b'#').unwrap() + 2;
    bytes.insert(at, 0xff);
    let e = Scenario::parse_bytes(&bytes, "bad.toml")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("bad.toml:5:15:"), "{e}");
    assert!(
        e.contains("field `cluster.brokers`") && e.contains("invalid UTF-8") && e.contains("0xff"),
        "{e}"
    );
    assert!(e.contains("in the comment after the value"), "{e}");
    // In a comment line: no field, and says so.
    let mut commented = format!("# a comment \n{PRODUCE}").into_bytes();
    commented[5] = 0xc3;
    let e = Scenario::parse_bytes(&commented, "bad.toml")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("bad.toml:1:6:") && e.contains("in a comment line"),
        "{e}"
    );
    // Through `load`, as the command line reads a file.
    let path = std::env::temp_dir().join(format!("eosim-utf8-{}.toml", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    let name = path.to_string_lossy().to_string();
    let e = scenarios::load(&name).unwrap_err().to_string();
    std::fs::remove_file(&path).unwrap();
    assert!(e.starts_with(&format!("{name}:5:15:")), "{e}");
}

#[test]
fn an_oversized_file_is_rejected_without_parsing() {
    let mut text = PRODUCE.to_string();
    text.push_str(&"# padding\n".repeat(120_000));
    let e = Scenario::parse_bytes(text.as_bytes(), "big.toml")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("big.toml:1:1:") && e.contains("larger than"),
        "{e}"
    );
}

#[test]
fn the_built_in_scenarios_stay_within_the_limits() {
    for (name, text) in scenarios::BUILTIN {
        Scenario::parse(text, name).unwrap_or_else(|e| panic!("{e}"));
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        scenarios::load(&path.to_string_lossy()).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn cluster_epochs_and_elections_are_bounded() {
    let e = rejects(
        &PRODUCE.replace("brokers = 2", "brokers = 2\nmax_producer_epoch = 1"),
        6,
        "cluster.max_producer_epoch",
    );
    assert!(e.contains("at least 2"), "{e}");
    accepts(&PRODUCE.replace("brokers = 2", "brokers = 2\nmax_producer_epoch = 2"));
    rejects(
        &PRODUCE.replace("brokers = 2", "brokers = 2\nleader_election_ms = 60001"),
        6,
        "cluster.leader_election_ms",
    );
}

#[test]
fn a_reference_names_known_guarantees_with_plausible_ratios() {
    let reference = |ratios: &str| {
        with(
            PRODUCE,
            &format!("[reference]\nsource = \"a slide\"\nthroughput_ratios = {{ {ratios} }}"),
        )
    };
    accepts(&reference("\"exactly-once\" = 0.68"));
    let e = rejects(
        &reference("\"exactly-twice\" = 0.5"),
        9,
        "reference.throughput_ratios.exactly-twice",
    );
    assert!(e.contains("unknown guarantee"), "{e}");
    let e = rejects(
        &reference("\"exactly-once\" = 0.0"),
        9,
        "reference.throughput_ratios.exactly-once",
    );
    assert!(e.contains("(0, 10]"), "{e}");
}

#[test]
fn broker_resources_are_bounded() {
    for (key, value) in [
        ("request_threads", "65"),
        ("request_us", "1000001"),
        ("request_record_us", "10001"),
        ("disk_mb_per_s", "100001"),
    ] {
        let e = rejects(
            &PRODUCE.replace("brokers = 2", &format!("brokers = 2\n{key} = {value}")),
            6,
            &format!("cluster.{key}"),
        );
        assert!(e.contains("at most"), "{e}");
    }
    accepts(&PRODUCE.replace(
        "brokers = 2",
        "brokers = 2\nrequest_threads = 8\nrequest_us = 50\nrequest_record_us = 1\ndisk_mb_per_s = 200",
    ));
}

#[test]
fn the_replication_factor_is_at_least_one_and_at_most_the_brokers() {
    for (value, bound) in [("0", "at least 1"), ("3", "at most 2")] {
        let e = rejects(
            &PRODUCE.replace(
                "brokers = 2",
                &format!("brokers = 2\nreplication_factor = {value}"),
            ),
            6,
            "cluster.replication_factor",
        );
        assert!(e.contains(bound), "{e}");
    }
    accepts(&PRODUCE.replace(
        "brokers = 2",
        "brokers = 2\nreplication_factor = 2\nnon_idempotent_acks_leader = true",
    ));
}
