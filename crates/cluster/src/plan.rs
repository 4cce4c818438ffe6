//! Which node runs which subtasks: the embedded coordinator's round-robin deal, so a
//! distributed run splits work exactly as an embedded run with the same `--workers`.

use crate::error::ClusterError;

/// `subtasks` subtasks dealt round-robin to `nodes` queues: position `p` of node `i`'s
/// queue is subtask `i + p * nodes`.
///
/// # Examples
///
/// ```
/// use snapstate_cluster::Plan;
///
/// let plan = Plan::new(3, 8)?;
/// assert_eq!(plan.queue_len(0), 3); // subtasks 0, 3, 6
/// assert_eq!(plan.queue_len(2), 2); // subtasks 2, 5
/// assert_eq!(plan.subtask(1, 2), 7);
/// # Ok::<(), snapstate_cluster::ClusterError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Plan {
    /// Worker nodes (slots of the progress array).
    pub nodes: usize,
    /// Subtasks of the job.
    pub subtasks: usize,
}

impl Plan {
    /// The most nodes a job may have.
    pub const MAX_NODES: usize = 1024;
    /// The most subtasks a job may have.
    pub const MAX_SUBTASKS: usize = 1 << 24;

    /// A plan of `subtasks` subtasks on `nodes` nodes.
    ///
    /// # Errors
    ///
    /// [`ClusterError::Config`] if `nodes` is 0 or either count is above its maximum.
    pub fn new(nodes: usize, subtasks: usize) -> Result<Self, ClusterError> {
        if nodes == 0 || nodes > Self::MAX_NODES {
            return Err(ClusterError::Config(format!(
                "--workers must be between 1 and {} (got {nodes})",
                Self::MAX_NODES
            )));
        }
        if subtasks > Self::MAX_SUBTASKS {
            return Err(ClusterError::Config(format!(
                "a distributed job has at most {} subtasks (got {subtasks})",
                Self::MAX_SUBTASKS
            )));
        }
        Ok(Plan { nodes, subtasks })
    }

    /// The length of node `node`'s queue.
    pub fn queue_len(&self, node: usize) -> usize {
        if node >= self.subtasks {
            0
        } else {
            (self.subtasks - node).div_ceil(self.nodes)
        }
    }

    /// The subtask at position `pos` of node `node`'s queue.
    pub fn subtask(&self, node: usize, pos: usize) -> usize {
        node + pos * self.nodes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subtask_is_in_exactly_one_queue() {
        for nodes in 1..7 {
            for subtasks in 0..30 {
                let plan = Plan::new(nodes, subtasks).unwrap();
                let mut seen = vec![0; subtasks];
                for n in 0..nodes {
                    for p in 0..plan.queue_len(n) {
                        seen[plan.subtask(n, p)] += 1;
                    }
                }
                assert!(seen.iter().all(|&c| c == 1), "{nodes} nodes, {subtasks}");
            }
        }
        assert!(Plan::new(0, 1).is_err());
        assert!(Plan::new(Plan::MAX_NODES + 1, 1).is_err());
    }
}
