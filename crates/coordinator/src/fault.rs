//! Seeded fault injection: which subtask runs fail, and how.

/// How an injected fault makes a worker fail.
///
/// # Examples
///
/// ```
/// use snapstate_coordinator::FaultKind;
/// assert_eq!(FaultKind::Stall.to_string(), "stall");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// The worker panics in the middle of a subtask.
    Panic,
    /// The worker thread exits in the middle of a subtask, without a word.
    Kill,
    /// The worker stops making progress (it hangs until it is replaced).
    Stall,
}

impl FaultKind {
    /// All kinds, in the order the summary lists them.
    pub const ALL: [FaultKind; 3] = [FaultKind::Panic, FaultKind::Kill, FaultKind::Stall];
}

impl std::fmt::Display for FaultKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FaultKind::Panic => "panic",
            FaultKind::Kill => "kill",
            FaultKind::Stall => "stall",
        })
    }
}

/// Where faults strike: each run of a subtask fails with probability `rate`, decided by a
/// hash of `(seed, subtask, attempt)`.
///
/// The same seed injects the same faults at the same (subtask, attempt) pairs in every
/// run, so a failure replays. Only the first [`FaultPlan::INJECTED_ATTEMPTS`] attempts of a
/// subtask can be hit, so injected faults alone never exhaust a subtask's retries.
///
/// # Examples
///
/// ```
/// use snapstate_coordinator::FaultPlan;
///
/// let plan = FaultPlan::new(7, 0.5).unwrap();
/// let first = plan.decide(3, 0);
/// assert_eq!(first, plan.decide(3, 0)); // replays
/// assert_eq!(plan.decide(3, FaultPlan::INJECTED_ATTEMPTS), None);
/// assert!(FaultPlan::new(7, 1.0).is_none()); // a job that always fails never ends
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FaultPlan {
    seed: u64,
    rate: f64,
}

impl FaultPlan {
    /// Attempts of one subtask that injected faults may hit.
    pub const INJECTED_ATTEMPTS: u32 = 3;

    /// The highest accepted rate.
    pub const MAX_RATE: f64 = 0.9;

    /// A plan failing each subtask run with probability `rate`; `None` unless
    /// `0 <= rate <= MAX_RATE`.
    pub fn new(seed: u64, rate: f64) -> Option<Self> {
        (0.0..=Self::MAX_RATE)
            .contains(&rate)
            .then_some(FaultPlan { seed, rate })
    }

    /// A plan that injects nothing.
    pub fn none() -> Self {
        FaultPlan { seed: 0, rate: 0.0 }
    }

    /// The failure probability per subtask run.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The fault injected into attempt `attempt` (0 for the first) of `subtask`, if any.
    pub fn decide(&self, subtask: usize, attempt: u32) -> Option<FaultKind> {
        if self.rate <= 0.0 || attempt >= Self::INJECTED_ATTEMPTS {
            return None;
        }
        let [strike, kind] = hash(self.seed, subtask as u64, u64::from(attempt));
        if unit(strike) >= self.rate {
            return None;
        }
        Some(FaultKind::ALL[(kind % 3) as usize])
    }
}

/// Two well-mixed words from `(seed, subtask, attempt)`: BLAKE3 of their little-endian
/// bytes, so a seed names the same faults in every build.
fn hash(seed: u64, subtask: u64, attempt: u64) -> [u64; 2] {
    let mut input = [0u8; 24];
    for (chunk, v) in input.chunks_exact_mut(8).zip([seed, subtask, attempt]) {
        chunk.copy_from_slice(&v.to_le_bytes());
    }
    let out = blake3::hash(&input);
    let b = out.as_bytes();
    let word = |i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&b[i..i + 8]);
        u64::from_le_bytes(w)
    };
    [word(0), word(8)]
}

/// Maps a hash to `[0, 1)` using its top 53 bits.
fn unit(h: u64) -> f64 {
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The payload of an injected panic, so a panic hook can tell it from a real one.
///
/// # Examples
///
/// ```
/// use snapstate_coordinator::InjectedPanic;
///
/// let payload: Box<dyn std::any::Any + Send> = Box::new(InjectedPanic { subtask: 4 });
/// assert!(payload.downcast_ref::<InjectedPanic>().is_some());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InjectedPanic {
    /// The subtask the panic struck.
    pub subtask: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_roughly_honoured_and_all_kinds_occur() {
        let plan = FaultPlan::new(1, 0.2).unwrap();
        let mut hits = 0;
        let mut kinds = std::collections::HashSet::new();
        for s in 0..10_000 {
            if let Some(k) = plan.decide(s, 0) {
                hits += 1;
                kinds.insert(k);
            }
        }
        assert!((1_500..2_500).contains(&hits), "{hits}");
        assert_eq!(kinds.len(), 3);
        assert!((0..1000).all(|s| FaultPlan::none().decide(s, 0).is_none()));
    }
}
