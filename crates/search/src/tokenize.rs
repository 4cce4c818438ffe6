//! Splitting text into index terms.

/// Terms longer than this many bytes are skipped (they are almost always junk: hashes,
/// base64, minified code).
pub const MAX_TERM_BYTES: usize = 64;

/// Calls `emit` with each term of `text`, in order: maximal runs of alphanumeric
/// characters, lowercased. Terms longer than [`MAX_TERM_BYTES`] (once lowercased) are
/// skipped.
///
/// A run of ASCII lowercase letters and digits is passed as a slice of `text`; only a
/// run that needs lowercasing is copied (into one buffer reused for the whole text).
///
/// # Examples
///
/// ```
/// let mut terms = Vec::new();
/// snapstate_search::tokenize("Hello, wörld! 42 times-over", |t| terms.push(t.to_owned()));
/// assert_eq!(terms, ["hello", "wörld", "42", "times", "over"]);
/// ```
pub fn tokenize(text: &str, mut emit: impl FnMut(&str)) {
    let bytes = text.as_bytes();
    let mut lower = String::new();
    let mut i = 0;
    while i < bytes.len() {
        // Skip to the start of a term.
        let class = CLASS[bytes[i] as usize];
        if class == SEP {
            i += 1;
            continue;
        }
        if class == HIGH {
            let c = char_at(text, i);
            if !c.is_alphanumeric() {
                i += c.len_utf8();
                continue;
            }
        }
        // Scan the run of ASCII letters and digits (and any non-ASCII bytes: those
        // send the run to the character-by-character path below).
        let start = i;
        let mut seen = 0u8;
        while i < bytes.len() {
            let class = CLASS[bytes[i] as usize];
            if class == SEP {
                break;
            }
            seen |= class;
            i += 1;
        }
        if seen & HIGH == 0 {
            if i - start <= MAX_TERM_BYTES {
                if seen & UPPER == 0 {
                    emit(&text[start..i]);
                } else {
                    lower.clear();
                    lower.push_str(&text[start..i]);
                    lower.make_ascii_lowercase();
                    emit(&lower);
                }
            }
            continue;
        }
        // A run with non-ASCII characters, some of which may end it.
        i = start;
        lower.clear();
        while i < bytes.len() {
            let b = bytes[i];
            if b < 0x80 {
                if !b.is_ascii_alphanumeric() {
                    break;
                }
                lower.push(b.to_ascii_lowercase() as char);
                i += 1;
            } else {
                let c = char_at(text, i);
                if !c.is_alphanumeric() {
                    break;
                }
                lower.extend(c.to_lowercase());
                i += c.len_utf8();
            }
        }
        if lower.len() <= MAX_TERM_BYTES {
            emit(&lower);
        }
    }
}

/// Byte classes: an ASCII byte that separates terms, an ASCII lowercase letter or
/// digit, an ASCII uppercase letter, a byte of a non-ASCII character.
const SEP: u8 = 0;
const PLAIN: u8 = 1;
const UPPER: u8 = 2;
const HIGH: u8 = 4;

static CLASS: [u8; 256] = {
    let mut table = [SEP; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = if c >= 0x80 {
            HIGH
        } else if c.is_ascii_uppercase() {
            UPPER
        } else if c.is_ascii_alphanumeric() {
            PLAIN
        } else {
            SEP
        };
        b += 1;
    }
    table
};

/// The character starting at byte `i` of `text` (a character boundary).
#[inline]
fn char_at(text: &str, i: usize) -> char {
    text[i..].chars().next().unwrap_or('\0')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    fn terms(s: &str) -> Vec<String> {
        let mut v = Vec::new();
        tokenize(s, |t| v.push(t.to_owned()));
        v
    }

    /// The tokenizer as first written, character by character: the definition the fast
    /// one must match.
    fn reference(text: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut term = String::new();
        let mut too_long = false;
        let mut flush = |term: &mut String, too_long: &mut bool| {
            if !term.is_empty() && !*too_long {
                out.push(term.clone());
            }
            term.clear();
            *too_long = false;
        };
        for c in text.chars() {
            if c.is_ascii_alphanumeric() {
                term.push(c.to_ascii_lowercase());
            } else if c.is_ascii() || !c.is_alphanumeric() {
                flush(&mut term, &mut too_long);
                continue;
            } else {
                term.extend(c.to_lowercase());
            }
            if term.len() > MAX_TERM_BYTES {
                too_long = true;
                term.clear();
            }
        }
        flush(&mut term, &mut too_long);
        out
    }

    #[test]
    fn splits_lowercases_and_skips_long_runs() {
        assert_eq!(terms(""), Vec::<String>::new());
        assert_eq!(terms("  A  b\tC\n"), ["a", "b", "c"]);
        assert_eq!(terms("ÉCOLE straße"), ["école", "straße"]);
        assert_eq!(terms("größe Größe GRÖSSE"), ["größe", "größe", "grösse"]);
        let long = "x".repeat(MAX_TERM_BYTES + 1);
        assert_eq!(terms(&format!("ok {long} fine")), ["ok", "fine"]);
        let exact = "y".repeat(MAX_TERM_BYTES);
        assert_eq!(terms(&exact), vec![exact]);
        // Lowercasing can lengthen a term past the limit: 'İ' (2 bytes) lowercases to 3.
        let dotted = "İ".repeat(MAX_TERM_BYTES / 2);
        assert_eq!(terms(&dotted), Vec::<String>::new());
        assert_eq!(reference(&dotted), Vec::<String>::new());
    }

    #[test]
    fn matches_the_character_by_character_definition() {
        let alphabet = [
            "a", "z", "Q", "0", "9", " ", "-", ".", "\n", "é", "É", "ß", "İ", "Σ", "ς", "日",
            "\u{301}", "\u{FFFD}", "😀", "٣", "Ⅻ", "ǅ", "\u{0}", "_", "ﬁ",
        ];
        let mut rng = SplitMix64::new(11);
        for round in 0..3000 {
            let len = rng.below(if round % 10 == 0 { 200 } else { 20 }) as usize;
            let text: String = (0..len)
                .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
                .collect();
            assert_eq!(terms(&text), reference(&text), "{text:?}");
        }
        let long_mixed = format!("{}É{}", "a".repeat(40), "b".repeat(30));
        assert_eq!(terms(&long_mixed), reference(&long_mixed));
    }
}
