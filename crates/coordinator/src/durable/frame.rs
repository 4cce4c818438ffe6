//! The framing of the binary files in a checkpoint directory: an 8-byte magic, a postcard
//! body, and the CRC-32C of both, little-endian.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Frames `body` under `magic`.
pub(crate) fn encode<T: Serialize>(magic: &[u8; 8], body: &T) -> Result<Vec<u8>, String> {
    let mut out =
        postcard::to_extend(body, magic.to_vec()).map_err(|e| format!("cannot encode: {e}"))?;
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(out)
}

/// Checks the magic and the checksum and decodes the body.
pub(crate) fn decode<T: DeserializeOwned>(magic: &[u8; 8], file: &[u8]) -> Result<T, String> {
    if file.len() < magic.len() + 4 || &file[..magic.len()] != magic {
        return Err("not a snapstate checkpoint file of this kind (bad magic or too short)".into());
    }
    let (framed, crc) = file.split_at(file.len() - 4);
    let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32c::crc32c(framed) != stored {
        return Err("checksum mismatch (truncated or damaged)".into());
    }
    let (body, rest) = postcard::take_from_bytes(&framed[magic.len()..])
        .map_err(|e| format!("cannot decode: {e}"))?;
    if !rest.is_empty() {
        return Err(format!("{} trailing bytes", rest.len()));
    }
    Ok(body)
}
