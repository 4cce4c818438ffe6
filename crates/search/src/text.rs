//! From a file's bytes to its text: which files are text at all, and how their bytes
//! become characters.
//!
//! # The rule
//!
//! 1. A file that starts with a UTF-16 byte-order mark is UTF-16 (little or big endian,
//!    as the mark says) and is decoded as such (unpaired surrogates become U+FFFD).
//! 2. Otherwise a file is **not text** if it holds a NUL byte anywhere, or if more than
//!    one in a hundred of its first [`SNIFF_BYTES`] bytes are control bytes other than
//!    tab, line feed, vertical tab, form feed, carriage return, backspace, escape and
//!    SUB (0x1A); DEL (0x7F) counts as a control byte. A random file with its NUL bytes
//!    removed has about 9% such bytes; text, even text with terminal escapes or
//!    nroff-style overstrike, has next to none. (A decoded UTF-16 file is judged the same
//!    way, on its characters.)
//! 3. Text is read as UTF-8 where it is valid UTF-8 (a UTF-8 byte-order mark is
//!    dropped); every byte that is not part of a valid UTF-8 sequence is read as the
//!    Windows-1252 character it encodes (Windows-1252 is Latin-1 with printable
//!    characters in 0x80-0x9F, which is how every browser reads a page labelled
//!    Latin-1). So a Latin-1 file reads correctly (`Gr\xF6\xDFe` is `Größe`), a UTF-8 file
//!    reads exactly, and a UTF-8 file with a few stray Latin-1 bytes reads correctly in
//!    both parts.
//!
//! The decision of rule 2 on the first [`SNIFF_BYTES`] is what lets a reader stop
//! early: a file whose beginning is not text is not read further.

use std::borrow::Cow;
use std::convert::Infallible;

use encoding_rs::{UTF_16BE, UTF_16LE, WINDOWS_1252};

use crate::shard_index::HEARTBEAT_BYTES;

/// How many leading bytes decide, by their control bytes, whether a file is text.
pub const SNIFF_BYTES: usize = 64 * 1024;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
const UTF16LE_BOM: &[u8] = b"\xFF\xFE";
const UTF16BE_BOM: &[u8] = b"\xFE\xFF";

/// What the first [`SNIFF_BYTES`] of a file say about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sniff {
    /// Not text: the rest need not be read.
    Binary,
    /// Text so far (a NUL byte later on still makes it binary).
    Text,
}

/// Whether a byte is a control byte that text does not contain (rule 2). Branch-free,
/// so that counting them vectorises.
#[inline]
fn is_odd_control(b: u8) -> bool {
    let allowed = (0x08..=0x0D).contains(&b) | (b == 0x1A) | (b == 0x1B);
    ((b < 0x20) & !allowed) | (b == 0x7F)
}

/// Rule 2 on `prefix`, the first [`SNIFF_BYTES`] (or fewer, if the file is shorter).
pub(crate) fn sniff(prefix: &[u8]) -> Sniff {
    let prefix = &prefix[..prefix.len().min(SNIFF_BYTES)];
    if prefix.starts_with(UTF16LE_BOM) || prefix.starts_with(UTF16BE_BOM) {
        // Judged on its characters once decoded.
        return Sniff::Text;
    }
    // A NUL byte decides at once (most binary files have one near the start).
    if memchr::memchr(0, prefix).is_some() {
        return Sniff::Binary;
    }
    let odd: usize = prefix
        .chunks(255)
        .map(|c| usize::from(c.iter().map(|&b| u8::from(is_odd_control(b))).sum::<u8>()))
        .sum();
    if odd * 100 > prefix.len() {
        Sniff::Binary
    } else {
        Sniff::Text
    }
}

/// Where a file's text is, once its bytes are judged to be text.
enum Kind<'a> {
    /// The bytes (less a UTF-8 byte-order mark) are valid UTF-8.
    Utf8(&'a str),
    /// UTF-16, by its byte-order mark.
    Utf16(&'static encoding_rs::Encoding),
    /// Not valid UTF-8: bytes outside valid sequences are read as Windows-1252.
    Mixed(&'a [u8]),
}

/// Rules 1 and 2, and whether rule 3 needs a copy. `sniffed`: [`sniff`] already said
/// [`Sniff::Text`] of these bytes. Calls `beat` between megabytes of a large file.
fn classify<E>(
    bytes: &[u8],
    sniffed: bool,
    mut beat: impl FnMut() -> Result<(), E>,
) -> Result<Option<Kind<'_>>, E> {
    if bytes.starts_with(UTF16LE_BOM) {
        return Ok(Some(Kind::Utf16(UTF_16LE)));
    }
    if bytes.starts_with(UTF16BE_BOM) {
        return Ok(Some(Kind::Utf16(UTF_16BE)));
    }
    let rest = bytes.get(SNIFF_BYTES..).unwrap_or_default();
    if (!sniffed && sniff(bytes) == Sniff::Binary) || memchr::memchr(0, rest).is_some() {
        return Ok(None);
    }
    let body = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    if body.len() > HEARTBEAT_BYTES {
        // Valid piece by piece (cut between characters) is valid as a whole.
        for (i, piece) in char_pieces(body).enumerate() {
            if i > 0 {
                beat()?;
            }
            if std::str::from_utf8(piece).is_err() {
                return Ok(Some(Kind::Mixed(body)));
            }
        }
    }
    Ok(Some(match std::str::from_utf8(body) {
        Ok(text) => Kind::Utf8(text),
        Err(_) => Kind::Mixed(body),
    }))
}

/// `bytes` in pieces of about [`HEARTBEAT_BYTES`], each cut before a byte that does not
/// continue a character: no character and no invalid sequence spans a cut, so
/// decoding the pieces gives exactly the text of decoding the whole.
fn char_pieces(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut cut = rest.len().min(HEARTBEAT_BYTES);
        // At most 3 continuation bytes follow a lead byte; past that, any cut will do.
        for _ in 0..3 {
            if cut < rest.len() && rest[cut] & 0xC0 == 0x80 {
                cut -= 1;
            }
        }
        if cut == 0 {
            cut = rest.len().min(HEARTBEAT_BYTES);
        }
        let (piece, tail) = rest.split_at(cut);
        rest = tail;
        Some(piece)
    })
}

/// Writes the text of a classified file into `out` (cleared first); `false` if a
/// UTF-16 file turns out not to be text.
fn decode_to<E>(
    kind: &Kind<'_>,
    bytes: &[u8],
    out: &mut String,
    mut beat: impl FnMut() -> Result<(), E>,
) -> Result<bool, E> {
    out.clear();
    match *kind {
        Kind::Utf8(text) => out.push_str(text),
        Kind::Utf16(encoding) => {
            let (text, _) = encoding.decode_with_bom_removal(bytes);
            let (mut seen, mut odd) = (0usize, 0usize);
            for c in text.chars().take(SNIFF_BYTES) {
                seen += 1;
                odd += usize::from(c.is_ascii() && is_odd_control(c as u8));
            }
            if odd * 100 > seen || text.contains('\0') {
                return Ok(false);
            }
            out.push_str(&text);
        }
        Kind::Mixed(body) => {
            out.reserve(body.len() + body.len() / 8);
            for (i, piece) in char_pieces(body).enumerate() {
                if i > 0 {
                    beat()?;
                }
                for chunk in piece.utf8_chunks() {
                    out.push_str(chunk.valid());
                    if !chunk.invalid().is_empty() {
                        let (text, _) = WINDOWS_1252.decode_without_bom_handling(chunk.invalid());
                        out.push_str(&text);
                    }
                }
            }
        }
    }
    Ok(true)
}

/// The text of a file's bytes under the module's rule, or `None` if it is not text;
/// `sniffed`: [`sniff`] already said [`Sniff::Text`] of them. Calls `beat` between
/// megabytes of a large file; its error stops the decoding.
///
/// The text borrows `bytes` when they are valid UTF-8; otherwise it is written into
/// `scratch` (whose old contents are dropped) and borrows that.
pub(crate) fn decode_into<'a, E>(
    bytes: &'a [u8],
    sniffed: bool,
    scratch: &'a mut String,
    mut beat: impl FnMut() -> Result<(), E>,
) -> Result<Option<&'a str>, E> {
    Ok(match classify(bytes, sniffed, &mut beat)? {
        None => None,
        Some(Kind::Utf8(text)) => Some(text),
        Some(kind) => decode_to(&kind, bytes, scratch, beat)?.then_some(scratch.as_str()),
    })
}

/// The text of a file's bytes, or `None` if it is not text, under the rule in the
/// module docs: UTF-8 where valid, Windows-1252 byte by byte where not, UTF-16 with a
/// byte-order mark; a NUL byte or many control bytes make a file binary.
///
/// # Examples
///
/// ```
/// use snapstate_search::decode_text;
///
/// assert_eq!(decode_text(b"plain").as_deref(), Some("plain"));
/// // Latin-1 bytes read as the characters they encode.
/// assert_eq!(decode_text(b"Gr\xF6\xDFe").as_deref(), Some("Größe"));
/// // UTF-8 stays UTF-8.
/// assert_eq!(decode_text("Größe".as_bytes()).as_deref(), Some("Größe"));
/// // A NUL byte, or bytes full of control characters, are not text.
/// assert_eq!(decode_text(b"a\0b"), None);
/// assert_eq!(decode_text(&[1, 2, 3, 4, 5, 6, 7]), None);
/// ```
pub fn decode_text(bytes: &[u8]) -> Option<Cow<'_, str>> {
    let Ok(kind) = classify(bytes, false, no_beat);
    match kind? {
        Kind::Utf8(text) => Some(Cow::Borrowed(text)),
        kind => {
            let mut out = String::new();
            let Ok(is_text) = decode_to(&kind, bytes, &mut out, no_beat);
            is_text.then_some(Cow::Owned(out))
        }
    }
}

/// A heartbeat nobody listens to.
fn no_beat() -> Result<(), Infallible> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    fn text(bytes: &[u8]) -> Option<String> {
        decode_text(bytes).map(Cow::into_owned)
    }

    #[test]
    fn latin1_and_windows_1252_bytes_read_as_their_characters() {
        assert_eq!(text(b"Gr\xF6\xDFe").as_deref(), Some("Größe"));
        assert_eq!(
            text(b"caf\xE9 \x80 \x93x\x94").as_deref(),
            Some("café € “x”")
        );
        // Mixed: valid UTF-8 stays, the stray Latin-1 byte is read as Latin-1.
        let mut mixed = "naïve ".as_bytes().to_vec();
        mixed.extend_from_slice(b"na\xEFve");
        assert_eq!(text(&mixed).as_deref(), Some("naïve naïve"));
        // A UTF-8 byte-order mark is dropped.
        assert_eq!(text(b"\xEF\xBB\xBFhi").as_deref(), Some("hi"));
    }

    #[test]
    fn utf16_with_a_byte_order_mark_is_decoded() {
        let mut le = vec![0xFF, 0xFE];
        let mut be = vec![0xFE, 0xFF];
        for u in "Größe ok".encode_utf16() {
            le.extend_from_slice(&u.to_le_bytes());
            be.extend_from_slice(&u.to_be_bytes());
        }
        assert_eq!(text(&le).as_deref(), Some("Größe ok"));
        assert_eq!(text(&be).as_deref(), Some("Größe ok"));
        // UTF-16 holding a NUL character is not text.
        le.extend_from_slice(&[0, 0]);
        assert_eq!(text(&le), None);
    }

    #[test]
    fn nul_bytes_and_control_bytes_make_a_file_binary() {
        assert_eq!(text(b"ok\0"), None);
        let mut late_nul = b"text ".repeat(100_000);
        late_nul.push(0);
        assert_eq!(text(&late_nul), None, "a NUL past the sniffed prefix");
        // Terminal escapes, overstrike, form feeds and CRLF are text.
        let fancy = b"\x1b[1mbold\x1b[0m b\x08b\x0cpage\r\n\tend\x1a";
        assert!(text(fancy).is_some());
        // One odd control byte in a short file is more than 1 %.
        assert_eq!(text(b"ab\x01"), None);
        assert!(text(&[b"x".repeat(200), vec![1]].concat()).is_some());
    }

    #[test]
    fn random_bytes_without_nul_are_not_text() {
        let mut rng = SplitMix64::new(7);
        let bytes: Vec<u8> = (0..SNIFF_BYTES * 2)
            .map(|_| (rng.below(255) + 1) as u8)
            .collect();
        assert_eq!(sniff(&bytes), Sniff::Binary);
        assert_eq!(text(&bytes), None);
    }

    #[test]
    fn a_large_file_decodes_as_a_whole_with_heartbeats() {
        // Multi-byte characters and invalid bytes straddling every 1 MiB boundary.
        let mut bytes = Vec::new();
        while bytes.len() < 3 << 20 {
            bytes.extend_from_slice("größe ".as_bytes());
            bytes.extend_from_slice(&[0xE2, 0x82, b' ', 0xFF, b'x', 0xC3, 0x80, 0x80]);
        }
        let mut whole = String::new();
        for chunk in bytes.utf8_chunks() {
            whole.push_str(chunk.valid());
            whole.push_str(&WINDOWS_1252.decode_without_bom_handling(chunk.invalid()).0);
        }
        let (mut scratch, mut beats) = (String::new(), 0);
        let text = decode_into(&bytes, false, &mut scratch, || {
            beats += 1;
            Ok::<_, ()>(())
        });
        assert_eq!(text.unwrap(), Some(whole.as_str()));
        assert!(beats >= 2, "{beats} beats");
        let valid = "größe ".repeat(600_000);
        let mut beats = 0;
        let text = decode_into(valid.as_bytes(), false, &mut scratch, || {
            beats += 1;
            Ok::<_, ()>(())
        });
        assert_eq!(text.unwrap(), Some(valid.as_str()));
        assert!(beats >= 2, "{beats} beats");
        // A cancelled beat stops it.
        let stopped = decode_into(&bytes, false, &mut scratch, || Err("cancelled"));
        assert_eq!(stopped, Err("cancelled"));
    }

    #[test]
    fn decode_into_borrows_valid_utf8() {
        let bytes = "héllo".as_bytes();
        let mut scratch = String::new();
        let t = decode_into(bytes, false, &mut scratch, no_beat)
            .unwrap()
            .unwrap();
        assert!(std::ptr::eq(t.as_ptr(), bytes.as_ptr()));
        assert!(matches!(decode_text(bytes), Some(Cow::Borrowed("héllo"))));
        assert!(matches!(decode_text(b"h\xE9"), Some(Cow::Owned(s)) if s == "hé"));
    }
}
