//! Committed outputs: the ones a snapshot covers. Each subtask is committed exactly once.

use crate::error::CoordinatorError;
use crate::plan::Plan;

/// The outputs committed so far and each node's committed progress.
#[derive(Debug)]
pub(crate) struct CommitLog<O> {
    plan: Plan,
    /// Per node: how many entries of its queue are committed. Never goes back.
    progress: Vec<usize>,
    outputs: Vec<Option<O>>,
    committed: usize,
}

impl<O> CommitLog<O> {
    pub(crate) fn new(plan: Plan) -> Self {
        CommitLog {
            plan,
            progress: vec![0; plan.nodes],
            outputs: (0..plan.subtasks).map(|_| None).collect(),
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
        self.progress[node] += 1;
        self.committed += 1;
        Ok(())
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
        assert!(log.commit(0, 1, "x").is_err());
        log.commit(0, 0, "a").unwrap();
        log.commit(1, 0, "b").unwrap();
        assert!(log.commit(0, 0, "again").is_err());
        assert!(!log.is_complete());
        log.commit(0, 1, "c").unwrap();
        assert!(log.is_complete());
        assert_eq!(log.into_outputs().unwrap(), vec!["a", "b", "c"]);
    }
}
