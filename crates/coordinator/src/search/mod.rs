//! The search-engine workload: an inverted index over a sharded corpus.
//!
//! [`Corpus`] lists the documents (generated, or a directory of text files) and splits
//! them into shards; [`IndexJob`] is the [`Job`](crate::Job) whose subtask `k` indexes
//! shard `k` into a [`ShardIndex`]; [`InvertedIndex::merge`] joins the committed shard
//! indexes; [`write_index`] stores the result atomically and [`IndexFile`] answers
//! queries from it.

mod corpus;
mod fxhash;
mod generate;
mod index;
mod index_file;
mod index_job;
mod shard_index;
mod term_table;
mod tokenize;

pub use corpus::{Corpus, CorpusError};
pub use index::{IndexStats, InvertedIndex};
pub use index_file::{
    encode_index, write_index, Hit, IndexFile, IndexFileError, QueryResult, WrittenIndex,
    INDEX_FILE,
};
pub use index_job::IndexJob;
pub use shard_index::{Posting, ShardIndex};
pub use tokenize::{tokenize, MAX_TERM_BYTES};
