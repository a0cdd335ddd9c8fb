//! The group coordinator, pure and synchronous: committed and transactional offsets
//! ([`offsets::GroupOffsets`]) and membership, generations, assignment and session timeouts
//! ([`membership::GroupMembers`]). The broker glues them: every rebalance is written to the
//! offsets log as a `Membership` record, which the KIP-447 generation check reads.

pub mod membership;
pub mod offsets;

pub use membership::{GroupMembers, Joined, MemberMeta, Rebalance, RebalanceCause};
pub use offsets::{GroupOffsets, GroupOffsetsConfig, OffsetLogRecord};
