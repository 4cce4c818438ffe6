//! Committed outputs: the ones a snapshot covers. Each subtask is committed exactly once.

use crate::error::CoordinatorError;
use crate::identity::Fingerprint;
use crate::plan::Plan;

/// The outputs committed so far and each node's committed progress.
#[derive(Debug)]
pub(crate) struct CommitLog<O> {
    plan: Plan,
    /// Per node: how many entries of its queue are committed. Never goes back.
    progress: Vec<usize>,
    outputs: Vec<Option<O>>,
    /// The fingerprint each committed output was built from.
    fingerprints: Vec<Fingerprint>,
    committed: usize,
}

impl<O> CommitLog<O> {
    pub(crate) fn new(plan: Plan) -> Self {
        CommitLog {
            plan,
            progress: vec![0; plan.nodes],
            outputs: (0..plan.subtasks).map(|_| None).collect(),
            fingerprints: vec![Fingerprint::NO_INPUT; plan.subtasks],
            committed: 0,
        }
    }

    /// Node `node`'s committed progress.
    pub(crate) fn progress(&self, node: usize) -> usize {
        self.progress[node]
    }

    /// Subtasks committed in all.
    pub(crate) fn committed(&self) -> usize {
        self.committed
    }

    pub(crate) fn is_complete(&self) -> bool {
        self.committed == self.plan.subtasks
    }

    /// Commits the output of position `pos` of node `node`'s queue: it must be the next
    /// uncommitted one, so outputs are committed in order and never twice.
    pub(crate) fn commit(
        &mut self,
        node: usize,
        pos: usize,
        output: O,
        fingerprint: Fingerprint,
    ) -> Result<(), CoordinatorError> {
        if pos != self.progress[node] {
            return Err(CoordinatorError::Invariant(format!(
                "node {node}: output for position {pos} committed when {} was next",
                self.progress[node]
            )));
        }
        let subtask = self.plan.subtask(node, pos);
        let slot = &mut self.outputs[subtask];
        if slot.is_some() {
            return Err(CoordinatorError::Invariant(format!(
                "subtask {subtask} committed twice"
            )));
        }
        *slot = Some(output);
        self.fingerprints[subtask] = fingerprint;
        self.progress[node] += 1;
        self.committed += 1;
        Ok(())
    }

    /// The committed output of `subtask` and its fingerprint, if committed.
    pub(crate) fn get(&self, subtask: usize) -> Option<(&O, Fingerprint)> {
        let output = self.outputs.get(subtask)?.as_ref()?;
        Some((output, self.fingerprints[subtask]))
    }

    /// All outputs in subtask order, once every subtask is committed.
    pub(crate) fn into_outputs(self) -> Result<Vec<O>, CoordinatorError> {
        self.outputs
            .into_iter()
            .enumerate()
            .map(|(k, o)| {
                o.ok_or_else(|| {
                    CoordinatorError::Invariant(format!("subtask {k} was never committed"))
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_in_order_and_only_once() {
        let mut log = CommitLog::new(Plan {
            nodes: 2,
            subtasks: 3,
        });
        let f = Fingerprint::of(b"f");
        assert!(log.commit(0, 1, "x", f).is_err());
        log.commit(0, 0, "a", f).unwrap();
        log.commit(1, 0, "b", Fingerprint::NO_INPUT).unwrap();
        assert!(log.commit(0, 0, "again", f).is_err());
        assert!(!log.is_complete());
        assert_eq!(log.get(0), Some((&"a", f)));
        assert_eq!(log.get(2), None);
        log.commit(0, 1, "c", f).unwrap();
        assert!(log.is_complete());
        assert_eq!(log.into_outputs().unwrap(), vec!["a", "b", "c"]);
    }
}
