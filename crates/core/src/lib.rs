#![doc = include_str!("../GUIDE.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod announce;
mod array;
mod background;
mod builder;
mod bulk;
pub mod checkpoint;
mod clock;
mod compact;
mod error;
mod floor;
mod id;
mod local;
mod node;
mod pin;
mod progress;
mod reader;
mod segment;
mod slots;
mod stats;
mod sync;
mod word;

pub use array::SnapshotArray;
pub use builder::Builder;
pub use bulk::SnapshotIter;
pub use checkpoint::CheckpointError;
pub use error::Error;
pub use id::SnapshotId;
pub use pin::SnapshotPin;
pub use reader::Reader;
pub use stats::Stats;
