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
/// hash of `(seed, subtask, attempt)`, and at most [`limit`](FaultPlan::with_limit) of them
/// in one run.
///
/// The same seed injects the same faults at the same (subtask, attempt) pairs in every
/// run, so a failure replays. Only the first [`FaultPlan::INJECTED_ATTEMPTS`] attempts of a
/// subtask can be hit, so injected faults alone never exhaust a subtask's retries.
///
/// A failure costs time (a stall costs the stall timeout), so a rate alone makes a job
/// of many small subtasks pay in proportion to their number; the limit bounds that cost.
/// When more pairs than the limit are struck, the ones kept are those with the smallest
/// hashes, so the choice is still fixed by the seed.
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
    limit: Option<usize>,
}

impl FaultPlan {
    /// Attempts of one subtask that injected faults may hit.
    pub const INJECTED_ATTEMPTS: u32 = 3;

    /// The highest accepted rate.
    pub const MAX_RATE: f64 = 0.9;

    /// A plan failing each subtask run with probability `rate`; `None` unless
    /// `0 <= rate <= MAX_RATE`.
    pub fn new(seed: u64, rate: f64) -> Option<Self> {
        (0.0..=Self::MAX_RATE).contains(&rate).then_some(FaultPlan {
            seed,
            rate,
            limit: None,
        })
    }

    /// At most `limit` injected faults in one run.
    ///
    /// # Examples
    ///
    /// ```
    /// use snapstate_coordinator::FaultPlan;
    ///
    /// let plan = FaultPlan::new(7, 0.5).unwrap().with_limit(3);
    /// assert_eq!(plan.limit(), Some(3));
    /// ```
    #[must_use]
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// The most faults one run injects, if limited.
    pub fn limit(&self) -> Option<usize> {
        self.limit
    }

    /// The faults of a run of `subtasks` subtasks, with the limit applied.
    pub(crate) fn schedule(&self, subtasks: usize) -> FaultSchedule {
        let Some(limit) = self.limit else {
            return FaultSchedule {
                plan: *self,
                chosen: None,
            };
        };
        // A subtask's attempt `a > 0` runs only if attempt `a - 1` failed, so a subtask's
        // faults are the chain of its struck attempts from 0. Chains are taken in the
        // order of their first attempt's hash until the limit is reached.
        let mut chains = Vec::new();
        if self.rate > 0.0 {
            for subtask in 0..subtasks {
                let [strike, _] = hash(self.seed, subtask as u64, 0);
                if unit(strike) < self.rate {
                    chains.push((strike, subtask));
                }
            }
        }
        chains.sort_unstable();
        let mut chosen = std::collections::HashMap::new();
        'chains: for (_, subtask) in chains {
            for attempt in 0..Self::INJECTED_ATTEMPTS {
                if chosen.len() >= limit {
                    break 'chains;
                }
                match self.decide(subtask, attempt) {
                    Some(kind) => chosen.insert((subtask, attempt), kind),
                    None => break,
                };
            }
        }
        FaultSchedule {
            plan: *self,
            chosen: Some(chosen),
        }
    }

    /// A plan that injects nothing.
    pub fn none() -> Self {
        FaultPlan {
            seed: 0,
            rate: 0.0,
            limit: None,
        }
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

/// A [`FaultPlan`] resolved for one run: with a limit, the struck `(subtask, attempt)`
/// pairs are chosen up front.
#[derive(Clone, Debug)]
pub(crate) struct FaultSchedule {
    plan: FaultPlan,
    chosen: Option<std::collections::HashMap<(usize, u32), FaultKind>>,
}

impl FaultSchedule {
    /// The fault injected into attempt `attempt` of `subtask`, if any.
    pub(crate) fn decide(&self, subtask: usize, attempt: u32) -> Option<FaultKind> {
        match &self.chosen {
            None => self.plan.decide(subtask, attempt),
            Some(chosen) => chosen.get(&(subtask, attempt)).copied(),
        }
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

    #[test]
    fn a_limit_caps_the_faults_of_a_run_whatever_its_size() {
        let plan = FaultPlan::new(1, 0.02).unwrap();
        let count = |s: &FaultSchedule, n: usize| {
            (0..n)
                .flat_map(|k| (0..FaultPlan::INJECTED_ATTEMPTS).map(move |a| (k, a)))
                .filter(|&(k, a)| s.decide(k, a).is_some())
                .count()
        };
        let unlimited = plan.schedule(40_000);
        assert!(count(&unlimited, 40_000) > 600);
        let limited = plan.with_limit(10).schedule(40_000);
        assert_eq!(count(&limited, 40_000), 10);
        // Each struck attempt after the first follows a struck one: all ten happen.
        for k in 0..40_000 {
            for a in 1..FaultPlan::INJECTED_ATTEMPTS {
                if limited.decide(k, a).is_some() {
                    assert!(
                        limited.decide(k, a - 1).is_some(),
                        "subtask {k} attempt {a}"
                    );
                }
            }
        }
        // Every fault kept is one the plain plan injects too, of the same kind.
        for k in 0..40_000 {
            for a in 0..FaultPlan::INJECTED_ATTEMPTS {
                if let Some(kind) = limited.decide(k, a) {
                    assert_eq!(plan.decide(k, a), Some(kind));
                }
            }
        }
        // Below the limit every fault that can happen still does: the struck attempts
        // that follow struck attempts.
        let small = plan.with_limit(1000).schedule(2000);
        let reachable = (0..2000)
            .map(|k| {
                (0..FaultPlan::INJECTED_ATTEMPTS)
                    .take_while(|&a| plan.decide(k, a).is_some())
                    .count()
            })
            .sum::<usize>();
        assert!(reachable > 20);
        assert_eq!(count(&small, 2000), reachable);
    }
}
