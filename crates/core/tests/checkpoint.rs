//! Checkpoints: round trips, and every corruption and truncation rejected.
#![cfg(not(snapstate_loom))]

use std::path::PathBuf;

use proptest::prelude::*;
use snapstate::checkpoint::{self, CheckpointError, FORMAT_VERSION};
use snapstate::{Error, SnapshotArray, SnapshotId};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("snapstate-test-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
#[cfg_attr(miri, ignore = "touches the file system (Miri isolation)")]
fn restored_array_reads_like_the_original_and_continues() {
    let dir = TempDir::new("roundtrip");
    let a: SnapshotArray = SnapshotArray::new(4);
    a.set_state(0, 3).unwrap();
    let old = a.snap();
    a.set_state(2, u64::MAX).unwrap();
    let s = a.snap();
    a.set_state(1, 99).unwrap(); // after the snapshot: not in the checkpoint
    a.write_checkpoint(s, dir.path("p.ckpt")).unwrap();

    let (b, at) = SnapshotArray::restore_checkpoint(dir.path("p.ckpt")).unwrap();
    assert_eq!(at, s);
    assert_eq!(b.fetch_all(s).unwrap(), a.fetch_all(s).unwrap());
    assert_eq!(b.current_state(1).unwrap(), 0);
    assert_eq!(
        b.fetch_state(0, old),
        Err(Error::Compacted { id: old, oldest: s })
    );
    assert_eq!(b.oldest_readable(), s);
    assert_eq!(b.snap(), SnapshotId::from(s.get() + 1));
    b.set_state(3, 7).unwrap();
    assert_eq!(b.fetch_all(b.snap()).unwrap(), vec![3, 0, u64::MAX, 7]);
    // Overwriting a checkpoint replaces it whole.
    b.write_checkpoint(SnapshotId::from(s.get() + 2), dir.path("p.ckpt"))
        .unwrap();
    let (c, at) = SnapshotArray::restore_checkpoint(dir.path("p.ckpt")).unwrap();
    assert_eq!(c.fetch_all(at).unwrap(), vec![3, 0, u64::MAX, 7]);
    let leftovers: Vec<_> = std::fs::read_dir(&dir.0).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temp files left behind");
}

#[test]
#[cfg_attr(miri, ignore = "touches the file system (Miri isolation)")]
fn checkpointing_an_unreadable_snapshot_is_an_error() {
    let dir = TempDir::new("unreadable");
    let a: SnapshotArray = SnapshotArray::new(1);
    let err = a
        .write_checkpoint(SnapshotId::from(0), dir.path("x"))
        .unwrap_err();
    assert!(matches!(
        err,
        CheckpointError::Snapshot(Error::SnapshotNotTaken { .. })
    ));
    assert!(!dir.path("x").exists());
    let err = a
        .write_checkpoint(a.snap(), dir.path("missing-dir/x"))
        .unwrap_err();
    assert!(matches!(err, CheckpointError::Io { .. }), "{err}");
}

#[test]
#[cfg_attr(miri, ignore = "touches the file system (Miri isolation)")]
fn missing_and_foreign_files_are_typed_errors() {
    let dir = TempDir::new("foreign");
    let err = SnapshotArray::restore_checkpoint(dir.path("nope")).unwrap_err();
    assert!(matches!(err, CheckpointError::Io { .. }));
    assert!(err.to_string().contains("nope"), "{err}");
    std::fs::write(
        dir.path("text"),
        b"hello, this is not a checkpoint file at all",
    )
    .unwrap();
    let err = SnapshotArray::restore_checkpoint(dir.path("text")).unwrap_err();
    assert!(matches!(err, CheckpointError::BadMagic), "{err}");
    std::fs::write(dir.path("empty"), b"").unwrap();
    assert!(matches!(
        SnapshotArray::restore_checkpoint(dir.path("empty")),
        Err(CheckpointError::Truncated { found: 0, .. })
    ));
}

#[test]
fn wrong_version_is_reported_as_such() {
    let mut bytes = checkpoint::encode_u64(&[1, 2], SnapshotId::from(3));
    bytes[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    match checkpoint::decode_u64(&bytes) {
        Err(CheckpointError::UnsupportedVersion { found, supported }) => {
            assert_eq!((found, supported), (FORMAT_VERSION + 1, FORMAT_VERSION));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_single_byte_corruption_is_rejected() {
    let original = checkpoint::encode_u64(&[7, 0, 1 << 40], SnapshotId::from(5));
    assert_eq!(
        checkpoint::decode_u64(&original).unwrap().0,
        vec![7, 0, 1 << 40]
    );
    for at in 0..original.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut bytes = original.clone();
            bytes[at] ^= flip;
            assert!(
                checkpoint::decode_u64(&bytes).is_err(),
                "flipping {flip:#x} at byte {at} was accepted"
            );
        }
    }
}

#[test]
fn every_truncation_and_extension_is_rejected() {
    let original = checkpoint::encode_u64(&[1, 2, 3, 4], SnapshotId::from(9));
    for len in 0..original.len() {
        let err = checkpoint::decode_u64(&original[..len]).unwrap_err();
        assert!(
            matches!(err, CheckpointError::Truncated { .. }),
            "a {len}-byte prefix gave {err}"
        );
    }
    let mut longer = original.clone();
    longer.push(0);
    assert!(matches!(
        checkpoint::decode_u64(&longer),
        Err(CheckpointError::Malformed(_))
    ));
}

#[test]
fn lengths_that_disagree_are_malformed_not_panics() {
    // A consistent frame (valid checksum) whose node count disagrees with its payload.
    let mut bytes = checkpoint::encode_u64(&[1, 2], SnapshotId::from(0));
    bytes[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    let body = bytes.len() - 4;
    let crc = crc32c_of(&bytes[..body]);
    bytes[body..].copy_from_slice(&crc.to_le_bytes());
    assert!(matches!(
        checkpoint::decode_u64(&bytes),
        Err(CheckpointError::Malformed(_))
    ));
}

/// CRC-32C (Castagnoli), bit by bit: an independent check of the format's checksum.
fn crc32c_of(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn the_stored_checksum_is_crc32c_of_the_body() {
    let bytes = checkpoint::encode_u64(&[42], SnapshotId::from(1));
    let body = bytes.len() - 4;
    assert_eq!(
        u32::from_le_bytes(bytes[body..].try_into().unwrap()),
        crc32c_of(&bytes[..body])
    );
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if cfg!(miri) { 4 } else { 64 },
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_values_encode_and_decode(values in proptest::collection::vec(any::<u64>(), 0..50), snap in 0u64..1 << 40) {
        let bytes = checkpoint::encode_u64(&values, SnapshotId::from(snap));
        prop_assert_eq!(bytes.len(), 44 + 8 * values.len());
        prop_assert_eq!(checkpoint::decode_u64(&bytes).unwrap(), (values, SnapshotId::from(snap)));
    }

    #[test]
    #[cfg_attr(miri, ignore = "touches the file system (Miri isolation)")]
    fn random_arrays_round_trip(values in proptest::collection::vec(any::<u64>(), 0..50), extra in 0u64..5) {
        let dir = TempDir::new("prop");
        let a: SnapshotArray = SnapshotArray::new(values.len());
        for _ in 0..extra {
            a.snap();
        }
        for (i, v) in values.iter().enumerate() {
            a.set_state(i, *v).unwrap();
        }
        let s = a.snap();
        a.write_checkpoint(s, dir.path("c")).unwrap();
        let (b, at) = SnapshotArray::restore_checkpoint(dir.path("c")).unwrap();
        prop_assert_eq!(at, s);
        prop_assert_eq!(b.fetch_all(at).unwrap(), values);
        prop_assert_eq!(b.snap().get(), s.get() + 1);
    }
}

#[cfg(feature = "serde")]
#[test]
#[cfg_attr(miri, ignore = "touches the file system (Miri isolation)")]
fn serde_values_round_trip() {
    let dir = TempDir::new("serde");
    let a: SnapshotArray<String> = SnapshotArray::new(3);
    a.set_state(0, "shard-7".into()).unwrap();
    a.set_state(2, "done".into()).unwrap();
    let s = a.snap();
    a.write_checkpoint_serde(s, dir.path("s")).unwrap();
    let (b, at) = SnapshotArray::<String>::restore_checkpoint_serde(dir.path("s")).unwrap();
    assert_eq!(b.fetch_all(at).unwrap(), vec!["shard-7", "", "done"]);
    // A u64 checkpoint is not a serde one, and the other way round.
    let bytes = std::fs::read(dir.path("s")).unwrap();
    assert!(matches!(
        checkpoint::decode_u64(&bytes),
        Err(CheckpointError::WrongEncoding { .. })
    ));
    let mut bad = bytes.clone();
    let last = bad.len() - 5;
    bad[last] ^= 0x55;
    assert!(checkpoint::decode_serde::<String>(&bad).is_err());
}
