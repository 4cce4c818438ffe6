//! The progress file: each node's committed progress at the last durable checkpoint, in
//! the core's checkpoint encoding (`snapstate::checkpoint::encode_u64`), bound to the job.
//!
//! Framed as in `frame` under the magic `SNAPPRG1`; the body (postcard) holds the job's
//! digest, the checkpoint number and the core's encoded bytes (whose snapshot id is the
//! checkpoint number).

use serde::{Deserialize, Serialize};
use snapstate::checkpoint::{decode_u64, encode_u64};
use snapstate::{CheckpointError, SnapshotId};

use crate::durable::frame;
use crate::identity::Digest;

const MAGIC: &[u8; 8] = b"SNAPPRG1";

#[derive(Debug, Serialize, Deserialize)]
struct Body {
    job: Digest,
    seq: u64,
    core: Vec<u8>,
}

/// A decoded progress file.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Progress {
    pub(crate) job: Digest,
    pub(crate) seq: u64,
    /// Committed progress per node.
    pub(crate) nodes: Vec<u64>,
}

/// Why a progress file could not be decoded.
#[derive(Debug)]
pub(crate) enum ProgressError {
    /// The outer frame is damaged.
    Frame(String),
    /// The core's checkpoint inside it is damaged.
    Core(CheckpointError),
}

/// Encodes checkpoint `seq` of `nodes`' progress for job `job`.
pub(crate) fn encode(job: Digest, seq: u64, nodes: &[u64]) -> Result<Vec<u8>, String> {
    let core = encode_u64(nodes, SnapshotId::from(seq));
    frame::encode(MAGIC, &Body { job, seq, core })
}

/// Decodes a progress file, verifying both checksums.
pub(crate) fn decode(file: &[u8]) -> Result<Progress, ProgressError> {
    let body: Body = frame::decode(MAGIC, file).map_err(ProgressError::Frame)?;
    let (nodes, snap) = decode_u64(&body.core).map_err(ProgressError::Core)?;
    if snap.get() != body.seq {
        return Err(ProgressError::Frame(format!(
            "checkpoint {} holds the progress of checkpoint {snap}",
            body.seq
        )));
    }
    Ok(Progress {
        job: body.job,
        seq: body.seq,
        nodes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption() {
        let file = encode(Digest([1; 32]), 17, &[3, 0, 9]).unwrap();
        let back = decode(&file).unwrap();
        assert_eq!(
            back,
            Progress {
                job: Digest([1; 32]),
                seq: 17,
                nodes: vec![3, 0, 9]
            }
        );
        for i in 0..file.len() {
            let mut bad = file.clone();
            bad[i] ^= 0x04;
            assert!(decode(&bad).is_err(), "flip at {i}");
        }
        for len in 0..file.len() {
            assert!(decode(&file[..len]).is_err(), "truncated to {len}");
        }
    }
}
