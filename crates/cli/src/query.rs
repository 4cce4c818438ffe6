//! `snapstate query`: documents containing every term, from an index built earlier.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use snapstate_search::{IndexFile, INDEX_FILE, MAX_TERM_BYTES};

use crate::cli::QueryArgs;
use crate::summary::thousands;

/// The directory to open for `--index PATH`: PATH itself, or the directory of PATH when it
/// names the index file.
fn index_dir(path: &Path) -> anyhow::Result<PathBuf> {
    if !path.is_file() {
        return Ok(path.to_owned());
    }
    if path.file_name() == Some(INDEX_FILE.as_ref()) {
        return Ok(path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_owned());
    }
    bail!(
        "--index {} is a file but not an {INDEX_FILE}; give the index directory (the --out of the build) or its {INDEX_FILE}",
        path.display()
    )
}

/// A word of the query the index can never match because it is too long to be a term.
fn too_long(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .find(|w| w.to_lowercase().len() > MAX_TERM_BYTES)
        .map(|w| {
            let shown: String = w.chars().take(24).collect();
            format!(
                "query term \"{shown}…\" is {} bytes long; the index skips terms over {MAX_TERM_BYTES} bytes, so no document can match it (shorten it)",
                w.to_lowercase().len()
            )
        })
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!(
        "{} {}",
        thousands(n as u64),
        if n == 1 { one } else { many }
    )
}

pub(crate) fn query(args: &QueryArgs) -> anyhow::Result<()> {
    let index = IndexFile::open(index_dir(&args.index)?)?;
    let text = args.terms.join(" ");
    if let Some(message) = too_long(&text) {
        bail!(message);
    }
    let result = index
        .query(&text, args.limit)
        .with_context(|| format!("cannot answer \"{text}\""))?;
    if result.terms.is_empty() {
        bail!("no searchable term in \"{text}\" (terms are letters and digits)");
    }
    let mut out = io::stdout().lock();
    if args.json {
        let hits: Vec<_> = result
            .hits
            .iter()
            .map(|h| serde_json::json!({"doc": h.doc, "name": h.name, "counts": h.counts}))
            .collect();
        let answer = serde_json::json!({
            "ok": true,
            "terms": result.terms,
            "doc_freqs": result.doc_freqs,
            "total_hits": result.total_hits,
            "hits": hits,
            "index_checksum": format!("{:016x}", index.checksum()),
        });
        writeln!(out, "{answer}")?;
        return Ok(out.flush()?);
    }
    for (t, n) in result.terms.iter().zip(&result.doc_freqs) {
        writeln!(out, "“{t}”: in {}", plural(*n, "document", "documents"))?;
    }
    let several = result.terms.len() > 1;
    if result.total_hits == 0 {
        let which = if several { "all of them" } else { "it" };
        writeln!(out, "no document contains {which}")?;
        return Ok(out.flush()?);
    }
    if several || result.hits.len() < result.total_hits {
        let what = if several {
            format!(
                "{} contain all {} terms",
                plural(result.total_hits, "document", "documents"),
                result.terms.len()
            )
        } else {
            plural(result.total_hits, "document", "documents")
        };
        let shown = if args.limit == 0 {
            "; -n 0: not listing them".to_owned()
        } else if result.hits.len() < result.total_hits {
            format!("; the best {} (raise -n for more)", result.hits.len())
        } else {
            String::new()
        };
        writeln!(out, "{what}{shown}")?;
    }
    for h in &result.hits {
        let counts: Vec<_> = result
            .terms
            .iter()
            .zip(&h.counts)
            .map(|(t, c)| format!("{t}×{c}"))
            .collect();
        writeln!(out, "  {:>8}  {}  ({})", h.doc, h.name, counts.join(", "))?;
    }
    Ok(out.flush()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlong_terms_are_named() {
        assert!(too_long("short words only").is_none());
        let long = "a".repeat(MAX_TERM_BYTES + 1);
        let msg = too_long(&format!("ok {long}")).unwrap();
        assert!(msg.contains("64 bytes"), "{msg}");
        assert!(too_long(&"b".repeat(MAX_TERM_BYTES)).is_none());
    }
}
