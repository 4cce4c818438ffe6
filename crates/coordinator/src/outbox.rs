//! A node's outbox: outputs its worker completed that no snapshot covers yet, and the
//! generation that fences a replaced worker out.
//!
//! # Why a lock here, on top of a lock-free array
//!
//! A worker that is declared stalled may still be running (a thread cannot be killed).
//! When it wakes up it must not stage an output or move the node's progress after its
//! replacement has rolled the node back. The check "am I still the node's current
//! generation?" and the two writes it guards (stage the output, `set_state`) must be one
//! step, or a zombie could pass the check, lose the CPU to the recovery, and then
//! overwrite the replacement's progress. The lock makes them one step. Only the node's
//! own worker and the coordinator take it, for a push and a `set_state` (never around
//! user code), so it is uncontended except while the node is being recovered.

use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::fault::FaultKind;
use crate::identity::Fingerprint;

/// An output a worker completed, waiting for a snapshot to cover it.
#[derive(Debug)]
pub(crate) struct Staged<O> {
    /// Its position in the node's queue.
    pub(crate) pos: usize,
    pub(crate) output: O,
    /// The fingerprint of the inputs it was built from.
    pub(crate) fingerprint: Fingerprint,
}

#[derive(Debug)]
pub(crate) struct Outbox<O> {
    state: Mutex<State<O>>,
}

#[derive(Debug)]
pub(crate) struct State<O> {
    /// The generation of the node's current worker; older workers are fenced out.
    pub(crate) generation: u64,
    /// Staged outputs in ascending position, all at or past the node's committed progress.
    pub(crate) pending: Vec<Staged<O>>,
    /// The fault the current generation was injected with, if any.
    pub(crate) injected: Option<FaultKind>,
}

impl<O> Outbox<O> {
    pub(crate) fn new() -> Self {
        Outbox {
            state: Mutex::new(State {
                generation: 0,
                pending: Vec::new(),
                injected: None,
            }),
        }
    }

    /// Locks the outbox. Nothing panics while holding it except `set_state` on a bad
    /// index (a bug), so a poisoned lock still holds consistent data.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State<O>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stages an output and runs `report` (the `set_state`), as one step,
    /// if `generation` is still current. Returns whether it was.
    pub(crate) fn deliver(
        &self,
        generation: u64,
        staged: Staged<O>,
        report: impl FnOnce(),
    ) -> bool {
        let mut st = self.lock();
        if st.generation != generation {
            return false;
        }
        st.pending.push(staged);
        report();
        true
    }

    /// Records that `kind` was injected into `generation`, if it is still current.
    pub(crate) fn mark_injected(&self, generation: u64, kind: FaultKind) -> bool {
        let mut st = self.lock();
        if st.generation != generation {
            return false;
        }
        st.injected = Some(kind);
        true
    }
}
