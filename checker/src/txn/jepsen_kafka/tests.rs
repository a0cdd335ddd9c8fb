use super::*;

#[test]
fn reads_sends_polls_and_positions_resets() {
    let text = "\
{:type :invoke, :f :assign, :value [9], :process 0, :time 1, :index 0}
{:type :ok, :f :assign, :value [9], :process 0, :time 2, :index 1}
{:type :invoke, :f :txn, :value [[:send 9 3] [:poll]], :process 0, :time 3, :index 2}
{:process :nemesis, :type :info, :f :start-partition, :value nil}
{:type :ok, :f :txn, :value [[:send 9 [12 3]] [:poll {9 [[10 1] [11 2]], :x [[0 5]]}]], :process 0, :time 4}
{:type :invoke, :f :send, :value [[:send :x 6]], :process 1, :time 5}
{:type :info, :f :send, :value [[:send :x 6]], :process 1, :time 6, :error :timeout}
{:type :invoke, :f :crash, :value nil, :process 2, :time 7}
{:type :info, :f :crash, :value nil, :process 2, :time 8}
";
    let h = read(text).unwrap();
    assert_eq!(h.ops.len(), 6);
    assert_eq!(h.ops[1].phase, Phase::Info, "an assign resets positions");
    let Operation::Txn {
        steps,
        transactional,
        ..
    } = &h.ops[3].op
    else {
        panic!("{:?}", h.ops[3]);
    };
    assert!(transactional);
    assert_eq!(steps.len(), 3);
    assert!(
        matches!(&steps[0], TxnStep::Send { topic, value: 3, offset: Some(12), .. } if &**topic == "9")
    );
    assert!(
        matches!(&steps[2], TxnStep::Poll { topic, records, .. } if &**topic == "x" && records.len() == 1)
    );
    assert_eq!(h.ops[5].time_ns, 6);
    assert_eq!(h.ops[5].error.as_deref(), Some(":timeout"));
    h.pairs().unwrap();
}

#[test]
fn bad_input_names_the_line_and_the_field() {
    let ok = "{:type :invoke, :f :txn, :value [[:poll]], :process 0}\n";
    for (bad, needle) in [
        (
            "{:type :ok, :f :txn, :value [[:poll {9 [[1 -2]]}]], :process 0}",
            ":value",
        ),
        (
            "{:type :ok, :f :txn, :value [[:append 9 1]], :process 0}",
            "micro-ops",
        ),
        (
            "{:type :ok, :f :txn, :value [[:poll]], :process \"p\"}",
            ":process",
        ),
        ("{:type :ok, :f :read, :value nil, :process 0}", ":f"),
        ("{:type :done, :f :txn, :value [], :process 0}", ":type"),
        ("{:type :ok, :f :send, :value [], :process 0}", "field :f"),
        (
            "{:type :invoke, :f :txn, :value [], :process 0}",
            "invokes again",
        ),
        (
            "{:type :ok, :f :txn, :value [[:send 9 [1 2 3]]], :process 0}",
            "[offset value]",
        ),
        (
            "{:type :ok, :f :txn, :value [], :process 0, :time -1}",
            ":time",
        ),
        ("{:type :ok, :f :txn :value", "line 2"),
    ] {
        let message = read(&format!("{ok}{bad}")).unwrap_err().to_string();
        assert!(message.starts_with("line 2"), "{message}");
        assert!(message.contains(needle), "{message} lacks {needle}");
    }
    let message = read("{:type :ok, :f :txn, :value [], :process 3}")
        .unwrap_err()
        .to_string();
    assert!(message.contains("no open invoke"), "{message}");
}

#[test]
fn kafka_ops_are_told_from_other_jepsen_ops() {
    let op = |text: &str| is_kafka_op(&edn::read_one(text, 1).unwrap());
    assert!(op("{:type :invoke, :f :txn, :value [[:send 1 2] [:poll]]}"));
    assert!(op("{:type :invoke, :f :poll, :value [[:poll]]}"));
    assert!(op("{:type :invoke, :f :assign, :value [1 2]}"));
    assert!(!op(
        "{:type :invoke, :f :txn, :value [[:append 1 2] [:r 1 nil]]}"
    ));
    assert!(!op("{:type :invoke, :f :read, :value nil}"));
    assert!(!op("{:type :invoke, :f :crash}"));
}
