//! Seed ranges and shards, iterated lazily: a range of 2^64 seeds costs nothing up front, and
//! no arithmetic on a range's ends can overflow.

use std::fmt;

/// A non-empty, inclusive range of seeds. Written `A..B` (B exclusive) or `A..=B`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedRange {
    pub first: u64,
    pub last: u64,
}

/// Shard `index` of `count` (1-based): the seeds at positions ≡ index − 1 (mod count) of a range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// The one shard of an unsharded sweep: every seed.
    pub const WHOLE: Shard = Shard { index: 1, count: 1 };
}

impl SeedRange {
    /// `A..B` (B exclusive, so B > A) or `A..=B` (B ≥ A); any u64 ends.
    pub fn parse(text: &str) -> Result<SeedRange, String> {
        let (a, b, inclusive) = match text.split_once("..=") {
            Some((a, b)) => (a, b, true),
            None => {
                let (a, b) = text.split_once("..").ok_or_else(|| {
                    format!("seed range {text:?} is not of the form A..B or A..=B")
                })?;
                (a, b, false)
            }
        };
        let parse = |s: &str| {
            s.trim()
                .parse::<u64>()
                .map_err(|e| format!("seed range {text:?}: {s:?}: {e}"))
        };
        let (first, end) = (parse(a)?, parse(b)?);
        if inclusive {
            if first > end {
                return Err(format!("seed range {text:?} is empty (A > B)"));
            }
            Ok(SeedRange { first, last: end })
        } else {
            if first >= end {
                return Err(format!("seed range {text:?} is empty (B is exclusive)"));
            }
            Ok(SeedRange {
                first,
                last: end - 1,
            })
        }
    }

    /// How many seeds (up to 2^64).
    pub fn len(&self) -> u128 {
        u128::from(self.last - self.first) + 1
    }

    /// Never: a range holds at least one seed.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The seeds of `shard` (every seed without one), in increasing order, lazily.
    pub fn seeds(&self, shard: Option<Shard>) -> ShardSeeds {
        let Shard { index, count } = shard.unwrap_or(Shard::WHOLE);
        ShardSeeds {
            next: self
                .first
                .checked_add(index - 1)
                .filter(|&s| s <= self.last),
            last: self.last,
            step: count,
        }
    }

    /// How many seeds `shard` holds.
    pub fn shard_len(&self, shard: Option<Shard>) -> u128 {
        let Shard { index, count } = shard.unwrap_or(Shard::WHOLE);
        let len = self.len();
        let skip = u128::from(index - 1);
        if skip >= len {
            0
        } else {
            (len - skip).div_ceil(u128::from(count))
        }
    }
}

impl fmt::Display for SeedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..={}", self.first, self.last)
    }
}

impl Shard {
    /// `K/N` with 1 ≤ K ≤ N.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let (k, n) = text
            .split_once('/')
            .ok_or_else(|| format!("shard {text:?} is not of the form K/N"))?;
        let parse = |s: &str| {
            s.trim()
                .parse::<u64>()
                .map_err(|e| format!("shard {text:?}: {e}"))
        };
        let (index, count) = (parse(k)?, parse(n)?);
        if count == 0 || index == 0 || index > count {
            return Err(format!("shard {text:?}: need 1 <= K <= N"));
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The seeds of a shard of a range, in increasing order (see [`SeedRange::seeds`]).
#[derive(Clone, Debug)]
pub struct ShardSeeds {
    next: Option<u64>,
    last: u64,
    step: u64,
}

impl Iterator for ShardSeeds {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        let seed = self.next?;
        self.next = seed.checked_add(self.step).filter(|&s| s <= self.last);
        Some(seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_exclusive_and_inclusive_up_to_u64_max() {
        let r = SeedRange::parse("3..6").unwrap();
        assert_eq!((r.first, r.last, r.len()), (3, 5, 3));
        assert_eq!(SeedRange::parse("3..=6").unwrap().len(), 4);
        assert_eq!(SeedRange::parse("7..=7").unwrap().len(), 1);
        assert!(SeedRange::parse("6..6").is_err());
        assert!(SeedRange::parse("7..=6").is_err());
        assert!(SeedRange::parse("x..6").is_err());
        assert!(SeedRange::parse("0..18446744073709551616").is_err());
        let max = SeedRange::parse("0..18446744073709551615").unwrap();
        assert_eq!(max.len(), u128::from(u64::MAX));
        let all = SeedRange::parse("0..=18446744073709551615").unwrap();
        assert_eq!(all.len(), 1 << 64);
        let top = SeedRange::parse("18446744073709551613..=18446744073709551615").unwrap();
        assert_eq!(
            top.seeds(None).collect::<Vec<_>>(),
            vec![u64::MAX - 2, u64::MAX - 1, u64::MAX]
        );
        assert_eq!(
            top.seeds(Some(Shard { index: 2, count: 2 }))
                .collect::<Vec<_>>(),
            vec![u64::MAX - 1]
        );
        // Lazy: the first seeds of every u64 come at once.
        assert_eq!(
            all.seeds(Some(Shard {
                index: 3,
                count: 1 << 40
            }))
            .take(2)
            .collect::<Vec<_>>(),
            vec![2, 2 + (1 << 40)]
        );
        assert_eq!(all.shard_len(Some(Shard { index: 1, count: 2 })), 1 << 63);
    }

    #[test]
    fn shards_are_disjoint_and_cover_the_range() {
        let range = SeedRange::parse("0..10").unwrap();
        let mut union: Vec<u64> = (1..=3)
            .flat_map(|index| range.seeds(Some(Shard { index, count: 3 })))
            .collect();
        union.sort();
        assert_eq!(union, (0..10).collect::<Vec<_>>());
        assert_eq!(
            range
                .seeds(Some(Shard { index: 2, count: 3 }))
                .collect::<Vec<_>>(),
            vec![1, 4, 7]
        );
        for index in 1..=12 {
            let shard = Some(Shard { index, count: 12 });
            assert_eq!(
                range.shard_len(shard),
                range.seeds(shard).count() as u128,
                "{index}"
            );
        }
        assert!(Shard::parse("0/4").is_err());
        assert!(Shard::parse("5/4").is_err());
        assert_eq!(Shard::parse("2/4").unwrap().to_string(), "2/4");
    }
}
