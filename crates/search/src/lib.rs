//! The search-engine workload of snapstate: an inverted index over a sharded corpus, built
//! as a [`snapstate_coordinator::Job`].
//!
//! [`Corpus`] lists the documents (generated, or a directory of text files) and splits
//! them into shards; [`IndexJob`] is the job whose subtask `k` indexes shard `k` into a
//! [`ShardIndex`]; [`InvertedIndex::merge`] joins the committed shard indexes;
//! [`write_index`] stores the result atomically and [`IndexFile`] answers queries from it.
//!
//! # Examples
//!
//! ```
//! use std::sync::Arc;
//! use snapstate_coordinator::{Coordinator, CoordinatorConfig, FaultPlan, NoopObserver};
//! use snapstate_search::{Corpus, IndexJob, InvertedIndex};
//!
//! let corpus = Corpus::generated(200, 8, 1);
//! let config = CoordinatorConfig::new(2)?.faults(FaultPlan::new(3, 0.2).unwrap());
//! let job = IndexJob::new(corpus.clone());
//! let run = Coordinator::new(job, config).run(Arc::new(NoopObserver))?;
//! let index = InvertedIndex::merge(&corpus, run.outputs);
//! assert_eq!(index.stats().docs, 200);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod codec;
mod corpus;
mod generate;
mod index;
mod index_file;
mod index_format;
mod index_job;
mod merge;
mod rng;
mod shard_builder;
mod shard_index;
mod skip;
mod term_table;
mod text;
mod tokenize;
mod walk;

pub use codec::DecodeError;
pub use corpus::{Corpus, CorpusError};
pub use index::{IndexStats, InvertedIndex};
pub use index_file::{Hit, IndexFile, IndexFileError, QueryResult};
pub use index_format::{encode_index, write_index, WrittenIndex, INDEX_FILE};
pub use index_job::IndexJob;
pub use shard_index::{Posting, ShardIndex, HEARTBEAT_BYTES};
pub use skip::{skip_counts, SkipReason, Skipped};
pub use text::{decode_text, SNIFF_BYTES};
pub use tokenize::{tokenize, MAX_TERM_BYTES};
pub use walk::WalkOptions;
