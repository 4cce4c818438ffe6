//! Which worker node runs which subtasks, in which order.

/// Subtasks dealt round-robin to `nodes` queues: node `i` runs `i, i + n, i + 2n, ...`.
///
/// A node's progress (its state in the snapshot array) is how many entries of its queue
/// it has completed, so position `p` of node `i` is subtask `i + p * n`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    pub(crate) nodes: usize,
    pub(crate) subtasks: usize,
}

impl Plan {
    /// The length of node `node`'s queue.
    pub(crate) fn queue_len(&self, node: usize) -> usize {
        if node >= self.subtasks {
            0
        } else {
            (self.subtasks - node).div_ceil(self.nodes)
        }
    }

    /// The subtask at position `pos` of node `node`'s queue.
    pub(crate) fn subtask(&self, node: usize, pos: usize) -> usize {
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
                let plan = Plan { nodes, subtasks };
                let mut seen = vec![0; subtasks];
                for n in 0..nodes {
                    for p in 0..plan.queue_len(n) {
                        seen[plan.subtask(n, p)] += 1;
                    }
                }
                assert!(seen.iter().all(|&c| c == 1), "{nodes} nodes, {subtasks}");
            }
        }
    }
}
