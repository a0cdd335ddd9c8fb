//! The group coordinator. So far: committed and transactional offsets
//! ([`offsets::GroupOffsets`]), pure and synchronous; membership and rebalancing come later.

pub mod offsets;

pub use offsets::{GroupOffsets, GroupOffsetsConfig, OffsetLogRecord};
