//! Writes a large, linearizable history in Porcupine's formats, to measure the
//! linearizability checker's memory and time on inputs far beyond the test suite's:
//!
//!     cargo run --release -p eosim-checker --example gen_lin_history -- etcd OPS CLIENTS SEED > big-etcd.log
//!     cargo run --release -p eosim-checker --example gen_lin_history -- kv OPS CLIENTS SEED KEYS > big-kv.txt
//!     /usr/bin/time -v target/release/eosim check big-etcd.log --format porcupine-etcd
//!
//! `etcd`: one compare-and-set register (reads, writes, CAS over values 0..5); `kv`: get / put /
//! append over KEYS keys. CLIENTS clients each have at most one operation open; every step
//! either invokes an operation for an idle client or completes an open one, drawn from a
//! seeded xorshift generator, so the same arguments give the same file. An operation takes
//! effect when it completes, so the history is linearizable (a checker must say so, or run
//! out of its budget).

use std::io::Write;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

enum Open {
    Read,
    Write(u64),
    Cas(u64, u64),
    Get(u64),
    Put(u64, String),
    Append(u64, String),
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: gen_lin_history etcd|kv OPS CLIENTS SEED [KEYS]";
    let kind = args.first().expect(usage).as_str();
    let number = |i: usize, default: u64| {
        args.get(i)
            .map(|a| a.parse::<u64>().expect(usage))
            .unwrap_or(default)
    };
    let (ops, clients, seed, keys) = (
        number(1, 1000),
        number(2, 5).max(1),
        number(3, 1),
        number(4, 100).max(1),
    );
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut open: Vec<Option<Open>> = (0..clients).map(|_| None).collect();
    let mut register: Option<u64> = None;
    let mut store: Vec<String> = vec![String::new(); keys as usize];
    let (mut invoked, mut completed) = (0u64, 0u64);
    while completed < ops {
        let client = rng.below(clients) as usize;
        match open[client].take() {
            None if invoked < ops => {
                invoked += 1;
                let op = if kind == "etcd" {
                    match rng.below(3) {
                        0 => Open::Read,
                        1 => Open::Write(rng.below(5)),
                        _ => Open::Cas(rng.below(5), rng.below(5)),
                    }
                } else {
                    let key = rng.below(keys);
                    match rng.below(3) {
                        0 => Open::Get(key),
                        // Short values keep each key's string (and so the file) small.
                        1 => Open::Put(key, format!("x {client} {invoked} y")),
                        _ => Open::Append(key, format!("{}", invoked % 10)),
                    }
                };
                let line = match &op {
                    Open::Read => format!("INFO  jepsen.util - {client}\t:invoke\t:read\tnil"),
                    Open::Write(v) => format!("INFO  jepsen.util - {client}\t:invoke\t:write\t{v}"),
                    Open::Cas(a, b) => {
                        format!("INFO  jepsen.util - {client}\t:invoke\t:cas\t[{a} {b}]")
                    }
                    Open::Get(k) => format!(
                        "{{:process {client}, :type :invoke, :f :get, :key \"{k}\", :value nil}}"
                    ),
                    Open::Put(k, v) => format!(
                        "{{:process {client}, :type :invoke, :f :put, :key \"{k}\", :value \"{v}\"}}"
                    ),
                    Open::Append(k, v) => format!(
                        "{{:process {client}, :type :invoke, :f :append, :key \"{k}\", :value \"{v}\"}}"
                    ),
                };
                writeln!(out, "{line}").expect("write");
                open[client] = Some(op);
            }
            None => {}
            Some(op) => {
                completed += 1;
                let line = match op {
                    Open::Read => {
                        let value = register.map_or("nil".to_string(), |v| v.to_string());
                        format!("INFO  jepsen.util - {client}\t:ok\t:read\t{value}")
                    }
                    Open::Write(v) => {
                        register = Some(v);
                        format!("INFO  jepsen.util - {client}\t:ok\t:write\t{v}")
                    }
                    Open::Cas(a, b) => {
                        if register == Some(a) {
                            register = Some(b);
                            format!("INFO  jepsen.util - {client}\t:ok\t:cas\t[{a} {b}]")
                        } else {
                            format!("INFO  jepsen.util - {client}\t:fail\t:cas\t[{a} {b}]")
                        }
                    }
                    Open::Get(k) => format!(
                        "{{:process {client}, :type :ok, :f :get, :key \"{k}\", :value \"{}\"}}",
                        store[k as usize]
                    ),
                    Open::Put(k, v) => {
                        let line = format!(
                            "{{:process {client}, :type :ok, :f :put, :key \"{k}\", :value \"{v}\"}}"
                        );
                        store[k as usize] = v;
                        line
                    }
                    Open::Append(k, v) => {
                        store[k as usize].push_str(&v);
                        format!(
                            "{{:process {client}, :type :ok, :f :append, :key \"{k}\", :value \"{v}\"}}"
                        )
                    }
                };
                writeln!(out, "{line}").expect("write");
            }
        }
    }
}
