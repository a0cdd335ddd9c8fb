//! `eosim merge`: shard results are merged only if they are exactly the shards of one sweep.

use std::collections::BTreeMap;

use reports::SweepReport;

use crate::seeds::{SeedRange, Shard};

/// Merges shard results (each named by its file, for messages) into the whole sweep's. Every
/// part must be of the same sweep (scenario, guarantee, variants, seed range, swarm), and together
/// they must be exactly the shards 1/N … N/N of one N, each complete: a missing, repeated,
/// interrupted or incomplete shard, a mismatched N, or a mix of sharded and unsharded results
/// is an error naming what is wrong.
pub fn merge_shards(parts: Vec<(String, SweepReport)>) -> Result<SweepReport, String> {
    let Some((first_name, first)) = parts.first() else {
        return Err("nothing to merge".to_string());
    };
    let range = SeedRange::parse(&first.seeds)
        .map_err(|e| format!("{first_name}: not a sweep result: {e}"))?;
    let mut by_index: BTreeMap<u64, &str> = BTreeMap::new();
    let mut count: Option<(u64, &str)> = None;
    for (name, part) in &parts {
        same_sweep((name, part), (first_name, first))?;
        let shard = complete_shard(name, part, &range)?;
        let Shard { index, count: n } = shard.unwrap_or(Shard::WHOLE);
        match count {
            None => count = Some((n, name)),
            Some((m, other)) if m != n => {
                return Err(format!(
                    "mismatched shard counts: {other} is one of {m} shards, {name} one of {n}"
                ));
            }
            Some(_) => {}
        }
        if let Some(other) = by_index.insert(index, name) {
            return Err(format!("duplicate shard {index}/{n}: {other} and {name}"));
        }
    }
    let (n, _) = count.expect("at least one part");
    all_shards_present(n, &by_index, &first.seeds)?;
    SweepReport::merge(parts.into_iter().map(|(_, part)| part).collect())
}

/// Refuses a part of another sweep than the first part's.
fn same_sweep(
    (name, part): (&str, &SweepReport),
    (first_name, first): (&str, &SweepReport),
) -> Result<(), String> {
    let key = |p: &SweepReport| {
        (
            p.scenario.clone(),
            p.guarantee.clone(),
            p.variants.clone(),
            p.seeds.clone(),
            p.swarm,
        )
    };
    if key(part) == key(first) {
        return Ok(());
    }
    Err(format!(
        "{name} is of another sweep ({} {} variants {:?} seeds {} swarm {}) than \
         {first_name} ({} {} variants {:?} seeds {} swarm {})",
        part.scenario,
        part.guarantee,
        part.variants,
        part.seeds,
        part.swarm,
        first.scenario,
        first.guarantee,
        first.variants,
        first.seeds,
        first.swarm
    ))
}

/// The part's shard (`None`: the whole range), refused if it was interrupted or does not hold
/// exactly its shard's seeds of `range`, in order.
fn complete_shard(
    name: &str,
    part: &SweepReport,
    range: &SeedRange,
) -> Result<Option<Shard>, String> {
    let shard = match part.shard.as_deref() {
        None => None,
        Some(text) => Some(Shard::parse(text).map_err(|e| format!("{name}: {e}"))?),
    };
    let shard_label = shard.map_or("the whole range".to_string(), |s| format!("shard {s}"));
    if part.interrupted {
        return Err(format!(
            "{name} ({shard_label}) was interrupted: it holds {} of its seeds; run it again",
            part.runs
        ));
    }
    let expected = range.seeds(shard);
    let held = part.results.iter().map(|r| r.seed);
    let mismatch = expected
        .map(Some)
        .chain(std::iter::once(None))
        .zip(held.map(Some).chain(std::iter::repeat(None)))
        .find(|(want, got)| want != got);
    let Some((want, got)) = mismatch else {
        return Ok(shard);
    };
    let why = match (want, got) {
        (Some(w), None) => format!("seed {w} is missing"),
        (Some(w), Some(g)) => format!("seed {g} where seed {w} belongs"),
        (None, Some(g)) => format!("seed {g} is not in it"),
        (None, None) => unreachable!("find stops at a difference"),
    };
    Err(format!(
        "{name} ({shard_label} of seeds {}) is incomplete: {why} ({} result(s) for {} seed(s))",
        part.seeds,
        part.results.len(),
        range.shard_len(shard)
    ))
}

/// Refuses a set of shards 1/n … n/n with some missing (`present`: the indices given); names
/// the first 20 missing.
fn all_shards_present(n: u64, present: &BTreeMap<u64, &str>, seeds: &str) -> Result<(), String> {
    let missing: Vec<String> = (1..=n)
        .filter(|k| !present.contains_key(k))
        .take(20)
        .map(|k| format!("{k}/{n}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let total = n - present.len() as u64;
    let more = if total > missing.len() as u64 {
        format!(" and {} more", total - missing.len() as u64)
    } else {
        String::new()
    };
    Err(format!(
        "missing shard(s) {}{more} of seeds {}: the shards given do not cover the range",
        missing.join(", "),
        seeds
    ))
}

/// Merges the shards of a soak (`soak --shard K/N --json`): the files must share the seed
/// range and list the same sweeps in the same order; each sweep is merged with
/// [`merge_shards`], so a missing, repeated or interrupted shard is refused the same way.
pub fn merge_soak_shards(
    parts: Vec<(String, reports::SoakReport)>,
) -> Result<reports::SoakReport, String> {
    let Some((first_name, first)) = parts.first() else {
        return Err("nothing to merge".to_string());
    };
    let case = |s: &SweepReport| {
        (
            s.scenario.clone(),
            s.guarantee.clone(),
            s.variants.clone(),
            s.swarm,
        )
    };
    let cases: Vec<_> = first.sweeps.iter().map(case).collect();
    for (name, part) in &parts {
        if part.seeds != first.seeds {
            return Err(format!(
                "{name} soaked seeds {} but {first_name} seeds {}",
                part.seeds, first.seeds
            ));
        }
        if part.sweeps.iter().map(case).collect::<Vec<_>>() != cases {
            return Err(format!(
                "{name} lists other sweeps than {first_name} (another build, or an interrupted \
                 soak)"
            ));
        }
    }
    let seeds = first.seeds.clone();
    let mut merged = Vec::new();
    for i in 0..cases.len() {
        let shards = parts
            .iter()
            .map(|(name, part)| (name.clone(), part.sweeps[i].clone()))
            .collect();
        merged.push(merge_shards(shards)?);
    }
    Ok(reports::SoakReport::new(&seeds, None, merged, false))
}
