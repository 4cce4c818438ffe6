//! Random operation sequences against the classic single-threaded solution.
#![cfg(not(loom))]

use proptest::prelude::*;
use snapstate::{Error, SnapshotArray, SnapshotId};

/// The classic solution: per node, `(snap_id, value)` pairs with in-place overwrite,
/// read by binary search.
struct Classic {
    nodes: Vec<Vec<(u64, u64)>>,
    snaps: u64,
}

impl Classic {
    fn new(n: usize) -> Self {
        Classic {
            nodes: vec![vec![(0, 0)]; n],
            snaps: 0,
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
        if s >= self.snaps {
            return Err(Error::SnapshotNotTaken {
                id: SnapshotId::from(s),
                taken: self.snaps,
            });
        }
        let i = log.partition_point(|&(e, _)| e <= s);
        Ok(log[i - 1].1)
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

fn as_string(v: u64) -> String {
    if v == 0 {
        String::new()
    } else {
        v.to_string()
    }
}

fn cases() -> u32 {
    if cfg!(miri) {
        8
    } else {
        256
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn matches_the_classic_solution(n in 0usize..5, ops in proptest::collection::vec(op(4), 0..if cfg!(miri) { 40 } else { 300 })) {
        let array: SnapshotArray = SnapshotArray::new(n);
        let mut model = Classic::new(n);
        for op in ops {
            match op {
                Op::Set(i, v) => prop_assert_eq!(array.set_state(i, v), model.set(i, v)),
                Op::Snap => prop_assert_eq!(array.snap().get(), model.snap()),
                Op::Fetch(i, s) => prop_assert_eq!(array.fetch_state(i, SnapshotId::from(s)), model.fetch(i, s)),
                Op::Current(i) => prop_assert_eq!(array.current_state(i), model.current(i)),
            }
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
            }
        }
    }
}
