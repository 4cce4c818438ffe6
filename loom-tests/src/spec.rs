//! The sequential specification of a `SnapshotArray`: the classic single-threaded
//! solution, as a state machine over [`Op`]s.
//!
//! - `set(i, v)`: node `i` becomes `v`.
//! - `snap()`: records every node's state and returns the number of earlier snaps.
//! - `fetch(i, s)`: node `i` in snapshot `s`, or `NotTaken` if fewer than `s + 1` snaps
//!   have happened.
//! - `current(i)`: node `i`'s state.
//! - `advance(i, v)`: node `i` becomes `v` if `v` is higher; returns whether it did.
//! - `compact(b)`: the floor (oldest readable snapshot) rises to `b`, but never past the
//!   newest snapshot or the lowest live pin; returns the floor. `NotTaken` if `b` is not
//!   taken. Reads of snapshots below the floor return `Compacted(floor)`.
//! - `pin(s)`: adds a live pin of `s` (`Pinned`), or refuses with `NotTaken` or
//!   `Compacted(floor)`; `unpin(s)` (dropping the guard) removes one pin of `s`.

use crate::history::{Op, Ret};

/// The state of the sequential array: current values and every snapshot taken.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    /// Each node's current value key.
    pub current: Vec<u64>,
    /// Each snapshot, in id order: every node's value key at that snap.
    pub snaps: Vec<Vec<u64>>,
    /// The oldest readable snapshot.
    pub floor: u64,
    /// The snapshot ids of the live pins, sorted (a multiset).
    pub pins: Vec<u64>,
}

impl State {
    /// `nodes` nodes at 0 and no snapshot.
    pub fn new(nodes: usize) -> Self {
        State {
            current: vec![0; nodes],
            snaps: Vec::new(),
            floor: 0,
            pins: Vec::new(),
        }
    }

    /// Applies `op` and returns what the sequential array would return, or `None` if the
    /// operation is invalid on this array (an index out of range: such a history is never
    /// linearizable, since the recorder only keeps successful calls).
    pub fn step(&mut self, op: &Op) -> Option<Ret> {
        Some(match *op {
            Op::Set { idx, value } => {
                *self.current.get_mut(idx)? = value;
                Ret::Done
            }
            Op::Snap => {
                self.snaps.push(self.current.clone());
                Ret::Snap(self.snaps.len() as u64 - 1)
            }
            Op::Fetch { idx, snap } => {
                match usize::try_from(snap).ok().and_then(|s| self.snaps.get(s)) {
                    Some(_) if snap < self.floor => {
                        self.current.get(idx)?;
                        Ret::Compacted(self.floor)
                    }
                    Some(values) => Ret::Value(*values.get(idx)?),
                    None => {
                        self.current.get(idx)?;
                        Ret::NotTaken
                    }
                }
            }
            Op::Current { idx } => Ret::Value(*self.current.get(idx)?),
            Op::Advance { idx, value } => {
                let cur = self.current.get_mut(idx)?;
                Ret::Raised(if value > *cur {
                    *cur = value;
                    true
                } else {
                    false
                })
            }
            Op::Compact { before } => {
                let Some(newest) = self.taken().checked_sub(1).filter(|&n| before <= n) else {
                    return Some(Ret::NotTaken);
                };
                let lowest_pin = self.pins.first().copied().unwrap_or(u64::MAX);
                self.floor = self.floor.max(before.min(newest).min(lowest_pin));
                Ret::Floor(self.floor)
            }
            Op::Pin { snap } => {
                if snap >= self.taken() {
                    Ret::NotTaken
                } else if snap < self.floor {
                    Ret::Compacted(self.floor)
                } else {
                    let at = self.pins.partition_point(|&p| p <= snap);
                    self.pins.insert(at, snap);
                    Ret::Pinned
                }
            }
            Op::Unpin { snap } => {
                // Only a pin that was taken can be dropped.
                let at = self.pins.iter().position(|&p| p == snap)?;
                self.pins.remove(at);
                Ret::Done
            }
        })
    }

    /// The number of snapshots taken.
    fn taken(&self) -> u64 {
        self.snaps.len() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_the_classic_solution() {
        let mut s = State::new(2);
        assert_eq!(s.step(&Op::Fetch { idx: 0, snap: 0 }), Some(Ret::NotTaken));
        assert_eq!(s.step(&Op::Set { idx: 1, value: 4 }), Some(Ret::Done));
        assert_eq!(s.step(&Op::Snap), Some(Ret::Snap(0)));
        assert_eq!(s.step(&Op::Set { idx: 1, value: 7 }), Some(Ret::Done));
        assert_eq!(s.step(&Op::Fetch { idx: 1, snap: 0 }), Some(Ret::Value(4)));
        assert_eq!(s.step(&Op::Fetch { idx: 0, snap: 0 }), Some(Ret::Value(0)));
        assert_eq!(s.step(&Op::Current { idx: 1 }), Some(Ret::Value(7)));
        assert_eq!(s.step(&Op::Snap), Some(Ret::Snap(1)));
        assert_eq!(s.step(&Op::Fetch { idx: 1, snap: 1 }), Some(Ret::Value(7)));
        assert_eq!(s.step(&Op::Fetch { idx: 1, snap: 2 }), Some(Ret::NotTaken));
        assert_eq!(s.step(&Op::Current { idx: 2 }), None);
        assert_eq!(s.step(&Op::Fetch { idx: 5, snap: 0 }), None);
    }

    #[test]
    fn progress_only_rises() {
        let mut s = State::new(1);
        assert_eq!(
            s.step(&Op::Advance { idx: 0, value: 5 }),
            Some(Ret::Raised(true))
        );
        assert_eq!(
            s.step(&Op::Advance { idx: 0, value: 3 }),
            Some(Ret::Raised(false))
        );
        assert_eq!(
            s.step(&Op::Advance { idx: 0, value: 5 }),
            Some(Ret::Raised(false))
        );
        assert_eq!(s.step(&Op::Current { idx: 0 }), Some(Ret::Value(5)));
        assert_eq!(s.step(&Op::Advance { idx: 1, value: 5 }), None);
    }

    #[test]
    fn compaction_stops_at_pins_and_the_newest_snapshot() {
        let mut s = State::new(1);
        assert_eq!(s.step(&Op::Compact { before: 0 }), Some(Ret::NotTaken));
        for v in 1..=4 {
            s.step(&Op::Set { idx: 0, value: v });
            s.step(&Op::Snap);
        }
        assert_eq!(s.step(&Op::Pin { snap: 1 }), Some(Ret::Pinned));
        assert_eq!(s.step(&Op::Pin { snap: 4 }), Some(Ret::NotTaken));
        assert_eq!(s.step(&Op::Compact { before: 3 }), Some(Ret::Floor(1)));
        assert_eq!(
            s.step(&Op::Fetch { idx: 0, snap: 0 }),
            Some(Ret::Compacted(1))
        );
        assert_eq!(s.step(&Op::Fetch { idx: 0, snap: 1 }), Some(Ret::Value(2)));
        assert_eq!(s.step(&Op::Pin { snap: 0 }), Some(Ret::Compacted(1)));
        assert_eq!(s.step(&Op::Unpin { snap: 2 }), None, "never pinned");
        assert_eq!(s.step(&Op::Unpin { snap: 1 }), Some(Ret::Done));
        // The newest snapshot stays readable whatever `before` says.
        assert_eq!(s.step(&Op::Compact { before: 3 }), Some(Ret::Floor(3)));
        assert_eq!(
            s.step(&Op::Fetch { idx: 0, snap: 2 }),
            Some(Ret::Compacted(3))
        );
        assert_eq!(s.step(&Op::Fetch { idx: 0, snap: 3 }), Some(Ret::Value(4)));
        // The floor never goes back.
        assert_eq!(s.step(&Op::Compact { before: 1 }), Some(Ret::Floor(3)));
    }
}
