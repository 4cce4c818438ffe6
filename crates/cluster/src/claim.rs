//! [`ClaimHolder`]: the value of a node's owner key in etcd, which says who made the
//! claim: the worker's name (for logs) and, under mutual TLS, the SHA-256 of its
//! certificate. The leader attaches a stream to a claim only if the stream's peer
//! certificate is the one the claim names, so a worker cannot take over another
//! worker's claim by repeating its node and epoch (both are readable in etcd).

use serde::{Deserialize, Serialize};

use crate::limits::Limits;

/// The largest owner value read; anything longer is not a claim this build made.
pub const MAX_CLAIM_BYTES: usize = 1024;

/// Who holds a claim.
///
/// # Examples
///
/// ```
/// use snapstate_cluster::ClaimHolder;
///
/// let h = ClaimHolder { worker: "host:42".into(), cert: Some("ab".repeat(32)) };
/// assert_eq!(ClaimHolder::parse(&h.to_json()), Some(h));
/// assert_eq!(ClaimHolder::parse(b"not json"), None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimHolder {
    /// The worker's name.
    pub worker: String,
    /// The SHA-256 (hex) of the worker's TLS certificate; `None` without TLS.
    pub cert: Option<String>,
}

impl ClaimHolder {
    /// The owner key's value.
    pub fn to_json(&self) -> Vec<u8> {
        // Plain data: serialising cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses an owner key's value; `None` if it is not one this build writes (too
    /// long, malformed, a name or fingerprint out of bounds).
    pub fn parse(bytes: &[u8]) -> Option<Self> {
        if bytes.len() > MAX_CLAIM_BYTES {
            return None;
        }
        let h: ClaimHolder = serde_json::from_slice(bytes).ok()?;
        let fingerprint_ok = h
            .cert
            .as_ref()
            .is_none_or(|c| c.len() == 64 && c.bytes().all(|b| b.is_ascii_hexdigit()));
        (h.worker.len() <= Limits::MAX_STRING && fingerprint_ok).then_some(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_holders_parse() {
        let ok = ClaimHolder {
            worker: "w".into(),
            cert: None,
        };
        assert_eq!(ClaimHolder::parse(&ok.to_json()), Some(ok));
        for bad in [
            br#"{"worker":"w","cert":"xyz"}"#.to_vec(),
            br#"{"worker":"w","cert":null,"extra":1}"#.to_vec(),
            format!(r#"{{"worker":"{}","cert":null}}"#, "a".repeat(300)).into_bytes(),
            vec![b' '; MAX_CLAIM_BYTES + 1],
        ] {
            assert_eq!(ClaimHolder::parse(&bad), None);
        }
    }
}
