//! Segment files: the outputs committed at one durable checkpoint, each with the
//! fingerprint of the inputs it was built from.
//!
//! Framed as in `frame` under the magic `SNAPSEG2`; the body (postcard) holds the job's
//! digest, the checkpoint number, and `(subtask, fingerprint, output)` entries.

use serde::{Deserialize, Serialize};

use crate::durable::frame;
use crate::identity::{Digest, Fingerprint};

const MAGIC: &[u8; 8] = b"SNAPSEG2";

#[derive(Serialize)]
struct SegmentRef<'a, O> {
    job: Digest,
    seq: u64,
    entries: &'a [EntryRef<'a, O>],
}

/// One output to write: `(subtask, fingerprint, output)`.
#[derive(Debug, Serialize)]
pub(crate) struct EntryRef<'a, O> {
    pub(crate) subtask: u64,
    pub(crate) fingerprint: Fingerprint,
    pub(crate) output: &'a O,
}

/// A decoded segment.
#[derive(Debug, Deserialize)]
pub(crate) struct Segment<O> {
    pub(crate) job: Digest,
    pub(crate) seq: u64,
    pub(crate) entries: Vec<Entry<O>>,
}

/// One decoded output.
#[derive(Debug, Deserialize)]
pub(crate) struct Entry<O> {
    pub(crate) subtask: u64,
    pub(crate) fingerprint: Fingerprint,
    pub(crate) output: O,
}

/// The file name of the segment of checkpoint `seq`.
pub(crate) fn file_name(seq: u64) -> String {
    format!("seg-{seq:020}.bin")
}

/// The checkpoint a segment file name is for, if it is one.
pub(crate) fn parse_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("seg-")?.strip_suffix(".bin")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Encodes the segment of checkpoint `seq` of job `job`.
pub(crate) fn encode<O: Serialize>(
    job: Digest,
    seq: u64,
    entries: &[EntryRef<'_, O>],
) -> Result<Vec<u8>, String> {
    frame::encode(MAGIC, &SegmentRef { job, seq, entries })
}

/// Decodes a segment, verifying its magic and checksum.
pub(crate) fn decode<O: serde::de::DeserializeOwned>(file: &[u8]) -> Result<Segment<O>, String> {
    frame::decode(MAGIC, file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_corruption_is_caught() {
        let outputs = [b"abc".to_vec(), Vec::new(), vec![0xff; 40]];
        let entries: Vec<_> = [3u64, 7, 300]
            .iter()
            .zip(&outputs)
            .map(|(&subtask, output)| EntryRef {
                subtask,
                fingerprint: Fingerprint::of(output),
                output,
            })
            .collect();
        let job = Digest([9; 32]);
        let file = encode(job, 5, &entries).unwrap();
        let back: Segment<Vec<u8>> = decode(&file).unwrap();
        assert_eq!((back.job, back.seq, back.entries.len()), (job, 5, 3));
        assert_eq!(back.entries[2].subtask, 300);
        assert_eq!(back.entries[2].output, vec![0xff; 40]);
        assert_eq!(back.entries[2].fingerprint, Fingerprint::of(&[0xff; 40]));
        for i in 0..file.len() {
            let mut bad = file.clone();
            bad[i] ^= 0x01;
            assert!(decode::<Vec<u8>>(&bad).is_err(), "flip at {i}");
        }
        for len in 0..file.len() {
            assert!(
                decode::<Vec<u8>>(&file[..len]).is_err(),
                "truncated to {len}"
            );
        }
    }

    #[test]
    fn names() {
        assert_eq!(parse_name(&file_name(42)), Some(42));
        assert_eq!(parse_name("seg-42.bin"), None);
        assert_eq!(parse_name("notes.txt"), None);
    }
}
