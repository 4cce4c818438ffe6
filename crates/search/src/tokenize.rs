//! Splitting text into index terms.

/// Terms longer than this many bytes are skipped (they are almost always junk: hashes,
/// base64, minified code).
pub const MAX_TERM_BYTES: usize = 64;

/// Calls `emit` with each term of `text`, in order: maximal runs of alphanumeric
/// characters, lowercased. Terms longer than [`MAX_TERM_BYTES`] are skipped.
///
/// # Examples
///
/// ```
/// let mut terms = Vec::new();
/// snapstate_search::tokenize("Hello, wörld! 42 times-over", |t| terms.push(t.to_owned()));
/// assert_eq!(terms, ["hello", "wörld", "42", "times", "over"]);
/// ```
pub fn tokenize(text: &str, mut emit: impl FnMut(&str)) {
    let mut term = String::new();
    let mut too_long = false;
    let mut flush = |term: &mut String, too_long: &mut bool| {
        if !term.is_empty() && !*too_long {
            emit(term);
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(s: &str) -> Vec<String> {
        let mut v = Vec::new();
        tokenize(s, |t| v.push(t.to_owned()));
        v
    }

    #[test]
    fn splits_lowercases_and_skips_long_runs() {
        assert_eq!(terms(""), Vec::<String>::new());
        assert_eq!(terms("  A  b\tC\n"), ["a", "b", "c"]);
        assert_eq!(terms("ÉCOLE straße"), ["école", "straße"]);
        let long = "x".repeat(MAX_TERM_BYTES + 1);
        assert_eq!(terms(&format!("ok {long} fine")), ["ok", "fine"]);
        let exact = "y".repeat(MAX_TERM_BYTES);
        assert_eq!(terms(&exact), vec![exact]);
    }
}
