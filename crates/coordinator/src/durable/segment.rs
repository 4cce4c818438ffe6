//! Segment files: the outputs committed at one snapshot.
//!
//! Layout: the magic `SNAPSEG1`, a varint entry count, then per entry a varint subtask
//! id and a length-prefixed encoded output, then FNV-1a 64 of all the preceding bytes,
//! little-endian.

use crate::checksum::fnv1a64;
use crate::codec::{put_bytes, put_varint, DecodeError, Reader};

const MAGIC: &[u8; 8] = b"SNAPSEG1";

/// The file name of the segment for snapshot `snap`.
pub(crate) fn file_name(snap: u64) -> String {
    format!("seg-{snap:020}.bin")
}

/// The snapshot a segment file name is for, if it is one.
pub(crate) fn parse_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("seg-")?.strip_suffix(".bin")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Encodes `(subtask, encoded output)` entries.
pub(crate) fn encode(entries: &[(usize, Vec<u8>)]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    put_varint(&mut out, entries.len() as u64);
    for (subtask, bytes) in entries {
        put_varint(&mut out, *subtask as u64);
        put_bytes(&mut out, bytes);
    }
    let sum = fnv1a64(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

/// Decodes a segment, verifying its magic and checksum.
pub(crate) fn decode(file: &[u8]) -> Result<Vec<(usize, &[u8])>, DecodeError> {
    if file.len() < MAGIC.len() + 8 || &file[..MAGIC.len()] != MAGIC {
        return Err(DecodeError(
            "not a snapstate segment (bad magic or too short)",
        ));
    }
    let (body, sum) = file.split_at(file.len() - 8);
    let sum = u64::from_le_bytes(sum.try_into().map_err(|_| DecodeError("short checksum"))?);
    if fnv1a64(body) != sum {
        return Err(DecodeError("checksum mismatch"));
    }
    let mut r = Reader::new(&body[MAGIC.len()..]);
    let n = r.len()?;
    let mut entries = Vec::with_capacity(n);
    for _ in 0..n {
        let subtask =
            usize::try_from(r.varint()?).map_err(|_| DecodeError("subtask id too large"))?;
        entries.push((subtask, r.bytes()?));
    }
    if !r.is_empty() {
        return Err(DecodeError("trailing bytes"));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_corruption_is_caught() {
        let entries = vec![(3, b"abc".to_vec()), (7, Vec::new()), (300, vec![0xff; 40])];
        let file = encode(&entries);
        let back = decode(&file).unwrap();
        assert_eq!(back.len(), 3);
        assert_eq!(back[2], (300, &[0xff; 40][..]));
        for i in 0..file.len() {
            let mut bad = file.clone();
            bad[i] ^= 0x01;
            assert!(decode(&bad).is_err(), "flip at {i}");
        }
        for len in 0..file.len() {
            assert!(decode(&file[..len]).is_err(), "truncated to {len}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(parse_name(&file_name(42)), Some(42));
        assert_eq!(parse_name("seg-42.bin"), None);
        assert_eq!(parse_name("notes.txt"), None);
    }
}
