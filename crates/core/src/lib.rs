#![doc = include_str!("../GUIDE.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod announce;
mod array;
mod clock;
mod error;
mod id;
mod local;
mod node;
mod segment;
mod sync;
mod word;

pub use array::SnapshotArray;
pub use error::Error;
pub use id::SnapshotId;
