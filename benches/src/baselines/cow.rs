//! A copy-on-write persistent vector (`rpds::VectorSync`) behind `arc_swap::ArcSwap`.

use std::sync::Arc;

use arc_swap::ArcSwap;
use rpds::VectorSync;

use crate::Store;

/// The whole state is one immutable value: the current vector and every snapshot taken
/// (persistent vectors share structure). Writers and `snap()` replace it by RCU (clone
/// with the change, compare-and-swap the pointer, retry on conflict); readers load the
/// pointer. Linearizable (each operation takes effect at one pointer load or CAS) and
/// lock-free, but every write copies a path of the tree and all writers contend on one
/// pointer.
#[derive(Debug)]
pub struct CowArcSwap(ArcSwap<State>);

#[derive(Debug)]
struct State {
    current: VectorSync<u64>,
    snaps: VectorSync<VectorSync<u64>>,
}

impl Store for CowArcSwap {
    const NAME: &'static str = "cow-arcswap";
    const LINEARIZABLE: bool = true;

    fn new(n: usize) -> Self {
        let current = (0..n).fold(VectorSync::new_sync(), |v, _| v.push_back(0));
        CowArcSwap(ArcSwap::from_pointee(State {
            current,
            snaps: VectorSync::new_sync(),
        }))
    }

    #[inline]
    fn set_state(&self, idx: usize, v: u64) {
        self.0.rcu(|s| {
            Arc::new(State {
                current: s.current.set(idx, v).expect("index in range"),
                snaps: s.snaps.clone(),
            })
        });
    }

    #[inline]
    fn snap(&self) -> u64 {
        let prev = self.0.rcu(|s| {
            Arc::new(State {
                current: s.current.clone(),
                snaps: s.snaps.push_back(s.current.clone()),
            })
        });
        prev.snaps.len() as u64
    }

    #[inline]
    fn fetch_state(&self, idx: usize, s: u64) -> u64 {
        let state = self.0.load();
        *state
            .snaps
            .get(s as usize)
            .and_then(|v| v.get(idx))
            .expect("snapshot taken, index in range")
    }

    fn read_snapshot(&self, s: u64, _n: usize, out: &mut Vec<u64>) {
        // One pointer load gives a consistent snapshot.
        out.clear();
        let state = self.0.load();
        out.extend(state.snaps.get(s as usize).expect("snapshot taken").iter());
    }
}
