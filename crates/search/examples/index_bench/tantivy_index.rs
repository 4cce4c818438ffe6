//! tantivy indexing the same text: one text field, frequencies but no positions, not
//! stored, tantivy's default tokenizer; one commit, no merges.
//!
//! The files are the plain indexer's list, read and decoded (with the job's
//! `decode_text`) on the calling thread and handed to tantivy's `threads` indexing
//! threads: tantivy gets one feeding thread on top of its workers.

use std::fs;
use std::path::Path;

use snapstate_search::decode_text;
use tantivy::indexer::NoMergePolicy;
use tantivy::schema::{IndexRecordOption, Schema, TextFieldIndexing, TextOptions};
use tantivy::{doc, Index, IndexWriter};

/// Documents indexed.
pub(crate) fn index(dir: &Path, threads: usize, out: &Path) -> u64 {
    let mut schema = Schema::builder();
    let options = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("default")
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    let body = schema.add_text_field("body", options);
    let index = Index::create_in_dir(out, schema.build()).expect("create a tantivy index");
    // tantivy wants at least 15 MB per thread; 64 MB each is plenty for one commit.
    let mut writer: IndexWriter = index
        .writer_with_num_threads(threads, threads * (64 << 20))
        .expect("a tantivy writer");
    writer.set_merge_policy(Box::new(NoMergePolicy));
    let mut docs = 0;
    for path in super::plain::list(dir) {
        let Ok(bytes) = fs::read(&path) else { continue };
        let Some(text) = decode_text(&bytes) else {
            continue;
        };
        writer
            .add_document(doc!(body => text.into_owned()))
            .expect("add a document");
        docs += 1;
    }
    writer.commit().expect("commit");
    writer.wait_merging_threads().expect("wait for merges");
    docs
}
