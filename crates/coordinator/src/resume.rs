//! Checking a resumed checkpoint against the inputs as they are now.
//!
//! Every committed output was stored with the fingerprint of the inputs it was built
//! from. On resume each is compared with [`Job::fingerprint`] of the inputs today; where
//! one differs (an input edited, even at the same size, or gone), that subtask's node is
//! rolled back to just before it, so the subtask and everything after it in the node's
//! queue run again. The rest is kept.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::identity::Fingerprint;
use crate::job::Job;
use crate::plan::Plan;

/// What the check found.
#[derive(Debug, Default)]
pub(crate) struct InputCheck {
    /// Subtasks whose inputs changed since their output was committed, ascending.
    pub(crate) changed: Vec<usize>,
    /// Per node: the queue position to resume from (the first changed subtask, or the
    /// committed progress if nothing changed).
    pub(crate) keep: Vec<usize>,
}

/// Compares the fingerprints of `outputs` (`(subtask, fingerprint)`, covering a prefix of
/// each node's queue of length `progress[node]`) with the inputs now, on `threads`
/// threads.
pub(crate) fn check_inputs<J: Job>(
    job: &J,
    plan: Plan,
    outputs: &[(usize, Fingerprint)],
    progress: &[usize],
    threads: usize,
) -> InputCheck {
    let next = AtomicUsize::new(0);
    let mut changed: Vec<usize> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads.clamp(1, outputs.len().max(1)))
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        // Relaxed: hands out indices; the scope's join publishes results.
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&(subtask, stored)) = outputs.get(i) else {
                            break;
                        };
                        // An input that cannot be read now has changed too: redo it, and
                        // let the run report what is wrong with it.
                        if job.fingerprint(subtask).ok() != Some(stored) {
                            mine.push(subtask);
                        }
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_default())
            .collect()
    });
    changed.sort_unstable();
    let mut keep = progress.to_vec();
    for &subtask in &changed {
        let (node, pos) = (subtask % plan.nodes, subtask / plan.nodes);
        keep[node] = keep[node].min(pos);
    }
    InputCheck { changed, keep }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::TaskContext;
    use crate::identity::JobIdentity;
    use crate::job::JobError;

    /// Subtask `k` reads input `inputs[k]`.
    struct Inputs(Vec<u64>);

    impl Job for Inputs {
        type Output = u64;
        fn identity(&self) -> JobIdentity {
            JobIdentity::new("inputs")
        }
        fn subtasks(&self) -> usize {
            self.0.len()
        }
        fn fingerprint(&self, k: usize) -> Result<Fingerprint, JobError> {
            Ok(Fingerprint::of(&self.0[k].to_le_bytes()))
        }
        fn run(&self, k: usize, _: &TaskContext) -> Result<u64, JobError> {
            Ok(self.0[k])
        }
    }

    #[test]
    fn a_changed_input_rolls_its_node_back_to_just_before_it() {
        let plan = Plan {
            nodes: 2,
            subtasks: 10,
        };
        let old = Inputs((0..10).collect());
        // Node 0 committed positions 0..4 (subtasks 0, 2, 4, 6), node 1 0..3 (1, 3, 5).
        let committed: Vec<_> = [0, 1, 2, 3, 4, 5, 6]
            .iter()
            .map(|&k| (k, old.fingerprint(k).unwrap()))
            .collect();
        let mut new = Inputs((0..10).collect());
        new.0[4] = 40; // node 0, position 2
        new.0[9] = 90; // not committed: nothing to check
        let check = check_inputs(&new, plan, &committed, &[4, 3], 3);
        assert_eq!(check.changed, vec![4]);
        assert_eq!(check.keep, vec![2, 3]);
        let unchanged = check_inputs(&old, plan, &committed, &[4, 3], 1);
        assert!(unchanged.changed.is_empty());
        assert_eq!(unchanged.keep, vec![4, 3]);
    }
}
