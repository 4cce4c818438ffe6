//! Random operation sequences against the classic single-threaded solution.
#![cfg(not(snapstate_loom))]

use proptest::prelude::*;
use snapstate::{Error, SnapshotArray, SnapshotId};

/// The classic solution: per node, `(snap_id, value)` pairs with in-place overwrite,
/// read by binary search.
struct Classic {
    nodes: Vec<Vec<(u64, u64)>>,
    snaps: u64,
    /// Compaction: the oldest readable snapshot, and the pinned ids.
    floor: u64,
    pins: Vec<u64>,
}

impl Classic {
    fn new(n: usize) -> Self {
        Classic {
            nodes: vec![vec![(0, 0)]; n],
            snaps: 0,
            floor: 0,
            pins: Vec::new(),
        }
    }

    fn set(&mut self, idx: usize, v: u64) -> Result<(), Error> {
        let len = self.nodes.len();
        let log = self
            .nodes
            .get_mut(idx)
            .ok_or(Error::IndexOutOfBounds { idx, len })?;
        match log.last_mut() {
            Some(last) if last.0 == self.snaps => last.1 = v,
            _ => log.push((self.snaps, v)),
        }
        Ok(())
    }

    fn snap(&mut self) -> u64 {
        self.snaps += 1;
        self.snaps - 1
    }

    fn fetch(&self, idx: usize, s: u64) -> Result<u64, Error> {
        let len = self.nodes.len();
        let log = self
            .nodes
            .get(idx)
            .ok_or(Error::IndexOutOfBounds { idx, len })?;
        self.readable(s)?;
        let i = log.partition_point(|&(e, _)| e <= s);
        Ok(log[i - 1].1)
    }

    fn readable(&self, s: u64) -> Result<(), Error> {
        if s >= self.snaps {
            return Err(Error::SnapshotNotTaken {
                id: SnapshotId::from(s),
                taken: self.snaps,
            });
        }
        if s < self.floor {
            return Err(Error::Compacted {
                id: SnapshotId::from(s),
                oldest: SnapshotId::from(self.floor),
            });
        }
        Ok(())
    }

    fn compact(&mut self, before: u64) -> Result<SnapshotId, Error> {
        if before >= self.snaps {
            return Err(Error::SnapshotNotTaken {
                id: SnapshotId::from(before),
                taken: self.snaps,
            });
        }
        let lowest_pin = self.pins.iter().copied().min().unwrap_or(u64::MAX);
        self.floor = self.floor.max(before.min(lowest_pin));
        Ok(SnapshotId::from(self.floor))
    }

    fn pin(&mut self, s: u64) -> Result<(), Error> {
        self.readable(s)?;
        self.pins.push(s);
        Ok(())
    }

    fn current(&self, idx: usize) -> Result<u64, Error> {
        let len = self.nodes.len();
        let log = self
            .nodes
            .get(idx)
            .ok_or(Error::IndexOutOfBounds { idx, len })?;
        Ok(log.last().unwrap().1)
    }
}

#[derive(Debug, Clone)]
enum Op {
    Set(usize, u64),
    Snap,
    Fetch(usize, u64),
    Current(usize),
    Compact(u64),
    Pin(u64),
    Unpin(usize),
    Advance(usize, u64),
}

fn op(n: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0..n + 2, any::<u64>()).prop_map(|(i, v)| Op::Set(i, v)),
        2 => Just(Op::Snap),
        4 => (0..n + 2, 0u64..40).prop_map(|(i, s)| Op::Fetch(i, s)),
        1 => (0..n + 2).prop_map(Op::Current),
        1 => (0..n + 2, any::<u64>()).prop_map(|(i, s)| Op::Fetch(i, s)),
    ]
}

fn op_with_compaction(n: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => op(n),
        1 => (0u64..45).prop_map(Op::Compact),
        1 => (0u64..40).prop_map(Op::Pin),
        1 => (0usize..8).prop_map(Op::Unpin),
        2 => (0..n + 2, 0u64..1000).prop_map(|(i, v)| Op::Advance(i, v)),
    ]
}

fn as_string(v: u64) -> String {
    if v == 0 {
        String::new()
    } else {
        v.to_string()
    }
}

/// 256 cases (8 under Miri), or `PROPTEST_CASES` for a longer run.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(if cfg!(miri) { 8 } else { 256 })
}

/// Applies one of the point operations (set, snap, fetch, current) to both and compares
/// the answers; `None` for the other operations, which the caller handles.
fn point_op(
    op: &Op,
    array: &SnapshotArray,
    model: &mut Classic,
) -> Option<Result<(), TestCaseError>> {
    let check = |ok: bool, what: String| {
        if ok {
            Ok(())
        } else {
            Err(TestCaseError::fail(what))
        }
    };
    Some(match *op {
        Op::Set(i, v) => {
            let (got, want) = (array.set_state(i, v), model.set(i, v));
            check(
                got == want,
                format!("set_state({i}, {v}): {got:?} != {want:?}"),
            )
        }
        Op::Snap => {
            let (got, want) = (array.snap().get(), model.snap());
            check(got == want, format!("snap(): {got} != {want}"))
        }
        Op::Fetch(i, s) => {
            let (got, want) = (array.fetch_state(i, SnapshotId::from(s)), model.fetch(i, s));
            check(
                got == want,
                format!("fetch_state({i}, {s}): {got:?} != {want:?}"),
            )
        }
        Op::Current(i) => {
            let (got, want) = (array.current_state(i), model.current(i));
            check(
                got == want,
                format!("current_state({i}): {got:?} != {want:?}"),
            )
        }
        _ => return None,
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn matches_the_classic_solution(n in 0usize..5, ops in proptest::collection::vec(op(4), 0..if cfg!(miri) { 40 } else { 300 })) {
        let array: SnapshotArray = SnapshotArray::new(n);
        let mut model = Classic::new(n);
        for op in ops {
            point_op(&op, &array, &mut model).expect("this strategy makes only point ops")?;
        }
        // Every snapshot still reads as the model says, after the whole history.
        for s in 0..model.snaps {
            for i in 0..n {
                prop_assert_eq!(array.fetch_state(i, SnapshotId::from(s)), model.fetch(i, s));
            }
        }
    }

    #[test]
    fn boxed_values_match_too(ops in proptest::collection::vec(op(2), 0..if cfg!(miri) { 30 } else { 200 })) {
        let array: SnapshotArray<String> = SnapshotArray::new(2);
        let mut model = Classic::new(2);
        for op in ops {
            match op {
                Op::Set(i, v) => {
                    // The model's 0 stands for the initial empty string, so written values
                    // are never 0.
                    let v = v.max(1);
                    prop_assert_eq!(array.set_state(i, v.to_string()), model.set(i, v))
                }
                Op::Snap => prop_assert_eq!(array.snap().get(), model.snap()),
                Op::Fetch(i, s) => prop_assert_eq!(
                    array.fetch_state(i, SnapshotId::from(s)),
                    model.fetch(i, s).map(as_string)
                ),
                Op::Current(i) => prop_assert_eq!(array.current_state(i), model.current(i).map(as_string)),
                _ => unreachable!("this strategy makes no compaction ops"),
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    /// Compaction, pins and `advance` mixed in: every answer, every error (with its
    /// oldest readable id), and the data of every readable snapshot agree with the model,
    /// and memory is actually given back.
    #[test]
    fn compaction_and_pins_match_the_model(n in 1usize..4, ops in proptest::collection::vec(op_with_compaction(3), 0..if cfg!(miri) { 40 } else { 300 })) {
        let array: SnapshotArray = SnapshotArray::new(n);
        let mut model = Classic::new(n);
        let mut pins = Vec::new();
        for op in ops {
            if let Some(checked) = point_op(&op, &array, &mut model) {
                checked?;
            } else {
                match op {
                    Op::Compact(b) => prop_assert_eq!(array.compact(SnapshotId::from(b)), model.compact(b)),
                    Op::Pin(s) => match (array.pin(SnapshotId::from(s)), model.pin(s)) {
                        (Ok(pin), Ok(())) => pins.push(pin),
                        (got, want) => prop_assert_eq!(got.map(|_| ()), want),
                    },
                    Op::Unpin(k) => {
                        if !pins.is_empty() {
                            let pin = pins.remove(k % pins.len());
                            let at = model.pins.iter().position(|&p| p == pin.id().get()).unwrap();
                            model.pins.remove(at);
                        }
                    }
                    Op::Advance(i, v) => {
                        let want = model.current(i).map(|cur| {
                            let raise = v > cur;
                            if raise {
                                model.set(i, v).unwrap();
                            }
                            raise
                        });
                        prop_assert_eq!(array.advance(i, v), want);
                    }
                    _ => unreachable!("point ops are handled above"),
                }
            }
            prop_assert_eq!(array.oldest_readable().get(), model.floor);
            prop_assert_eq!(array.live_pins(), model.pins.len());
        }
        for s in 0..model.snaps {
            prop_assert_eq!(array.fetch_all(SnapshotId::from(s)), (0..n).map(|i| model.fetch(i, s)).collect::<Result<Vec<_>, _>>());
        }
        // With no pins left and every epoch sealed by one more snap, compacting to the
        // newest snapshot leaves each node exactly one version: the one it needs.
        drop(pins);
        model.pins.clear();
        let newest = model.snap();
        prop_assert_eq!(array.snap().get(), newest);
        prop_assert_eq!(array.compact(SnapshotId::from(newest)), model.compact(newest));
        prop_assert!(array.stats().versions <= n as u64, "{:?}", array.stats());
        for i in 0..n {
            prop_assert_eq!(array.fetch_state(i, SnapshotId::from(newest)), model.fetch(i, newest));
        }
    }
}
