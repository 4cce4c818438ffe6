//! Goal 3: `fetch_state` at random `(node, snapshot)` against the classic binary search
//! with no lock, through plain `SnapshotArray::fetch_state` calls (the core's public
//! API, not the bench's `Store` wrapper, not `Reader`), alone and while another thread
//! writes the same array. `Reader` and a one-node deep history are reported beside it.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};

use snapstate::{SnapshotArray, SnapshotId};
use snapstate_benches::goal::{Row, Target};
use snapstate_benches::rng::XorShift;
use snapstate_benches::stats::median_ns_per_op;
use snapstate_benches::workload::NODES;
use snapstate_benches::Classic;

use crate::Part;

/// Versions per node of the main history (goal 3's 1000).
const VERSIONS: u64 = 1000;

/// Nanoseconds per read of `f(node, snapshot)` at `reads` random pairs over `nodes`
/// nodes and `versions` snapshots (the median of [`BATCHES`] timed batches), after an
/// untimed eighth as warm-up. Every answer is checked: node `i` holds `s + 1` in snapshot `s` in every history built here.
fn ns_fetch(reads: u64, versions: u64, nodes: usize, f: impl Fn(usize, u64) -> u64) -> f64 {
    let mut rng = XorShift::new(99);
    let one = |rng: &mut XorShift| {
        let s = rng.below(versions);
        let i = rng.below(nodes as u64) as usize;
        let v = f(i, s);
        if v != s + 1 {
            wrong(i, s, v);
        }
        black_box(v);
    };
    for _ in 0..reads / 8 {
        one(&mut rng);
    }
    median_ns_per_op(BATCHES, reads / BATCHES as u64, |n| {
        for _ in 0..n {
            one(&mut rng);
        }
    })
}

/// Timed batches per measurement; the measurement is their median.
const BATCHES: usize = 16;

#[cold]
#[inline(never)]
fn wrong(i: usize, s: u64, v: u64) -> ! {
    panic!(
        "fetch_state({i}, {s}) returned {v}, expected {}: the implementation is broken",
        s + 1
    )
}

/// `nodes` nodes, each set to `v + 1` before snapshot `v`, for `versions` snapshots, in
/// snapstate and in the classic solution.
fn build(nodes: usize, versions: u64) -> (SnapshotArray<u64>, Classic) {
    let ours = SnapshotArray::new(nodes);
    let mut classic = Classic::new(nodes);
    for v in 0..versions {
        for i in 0..nodes {
            ours.set_state(i, v + 1).expect("index in range");
            classic.set(i, v + 1);
        }
        assert_eq!(ours.snap().get(), v, "snapstate's snapshot ids");
        classic.snap();
    }
    (ours, classic)
}

fn plain(a: &SnapshotArray<u64>, i: usize, s: u64) -> u64 {
    a.fetch_state(i, SnapshotId::from(s))
        .expect("index in range, snapshot taken")
}

#[derive(Default)]
struct Pair {
    ours: Vec<f64>,
    base: Vec<f64>,
}

/// Goal 3's measurements.
pub(crate) struct Reads {
    reads: u64,
    deep_versions: u64,
    hist: (SnapshotArray<u64>, Classic),
    deep: (SnapshotArray<u64>, Classic),
    alone: Pair,
    writing: Pair,
    reader: Pair,
    deep_pair: Pair,
}

impl Reads {
    pub(crate) fn new(quick: bool) -> Self {
        let deep_versions = if quick { 100_000 } else { 1_000_000 };
        Reads {
            reads: 1 << 17,
            deep_versions,
            hist: build(NODES, VERSIONS),
            deep: build(1, deep_versions),
            alone: Pair::default(),
            writing: Pair::default(),
            reader: Pair::default(),
            deep_pair: Pair::default(),
        }
    }

    /// Reads of the main history while one other thread sets random nodes of the same
    /// array (a snap every 65,536 sets, so the history grows slowly); ns per read.
    fn with_writer(&self) -> f64 {
        let (ours, reads) = (&self.hist.0, self.reads);
        let stop = AtomicBool::new(false);
        std::thread::scope(|sc| {
            let stop = &stop;
            let w = sc.spawn(move || {
                let mut rng = XorShift::new(5);
                let mut n = 0u64;
                // Relaxed: a stop flag; nothing is published through it.
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..1024 {
                        let i = rng.below(NODES as u64) as usize;
                        // Values above VERSIONS land in snapshots >= VERSIONS only, so
                        // the readers' answers (snapshots < VERSIONS) stay checkable.
                        ours.set_state(i, VERSIONS + 1 + n).expect("index in range");
                        n += 1;
                    }
                    if n.is_multiple_of(65_536) {
                        ours.snap();
                    }
                }
                n
            });
            // Let the writer get going before timing.
            std::thread::sleep(std::time::Duration::from_millis(2));
            let ns = ns_fetch(reads, VERSIONS, NODES, |i, s| plain(ours, i, s));
            // Relaxed: see the load above.
            stop.store(true, Ordering::Relaxed);
            let writes = w.join().expect("writer panicked");
            assert!(writes > 0, "the writer ran");
            ns
        })
    }
}

impl Part for Reads {
    fn round(&mut self, _r: usize) {
        let (ours, classic) = (&self.hist.0, &self.hist.1);
        let n = self.reads;
        self.alone
            .ours
            .push(ns_fetch(n, VERSIONS, NODES, |i, s| plain(ours, i, s)));
        self.alone
            .base
            .push(ns_fetch(n, VERSIONS, NODES, |i, s| classic.fetch(i, s)));
        let w = self.with_writer();
        self.writing.ours.push(w);
        self.writing
            .base
            .push(ns_fetch(n, VERSIONS, NODES, |i, s| classic.fetch(i, s)));
        let reader = ours.reader();
        self.reader.ours.push(ns_fetch(n, VERSIONS, NODES, |i, s| {
            reader
                .fetch_state(i, SnapshotId::from(s))
                .expect("index in range, snapshot taken")
        }));
        drop(reader);
        self.reader
            .base
            .push(ns_fetch(n, VERSIONS, NODES, |i, s| classic.fetch(i, s)));
        let (d, dc, dv) = (&self.deep.0, &self.deep.1, self.deep_versions);
        self.deep_pair
            .ours
            .push(ns_fetch(n, dv, 1, |i, s| plain(d, i, s)));
        self.deep_pair
            .base
            .push(ns_fetch(n, dv, 1, |i, s| dc.fetch(i, s)));
    }

    fn rows(&self) -> Vec<Row> {
        let base = "classic, no lock";
        vec![
            Row::ratio(
                "g3.fetch",
                "fetch_state (plain calls), random (node, snapshot), 1024 nodes x 1000 versions: time vs classic binary search, no lock",
                "ns",
                &self.alone.ours,
                base,
                &self.alone.base,
                Target::AtMost(0.8),
            ),
            Row::ratio(
                "g3.fetch-writing",
                "the same while another thread writes the array: time vs classic, no lock, alone",
                "ns",
                &self.writing.ours,
                base,
                &self.writing.base,
                Target::AtMost(1.2),
            ),
            Row::ratio(
                "g3.reader",
                "the same through one Reader (one pin for all reads; context, not the goal)",
                "ns",
                &self.reader.ours,
                base,
                &self.reader.base,
                Target::None,
            ),
            Row::ratio(
                "g3.deep",
                &format!(
                    "fetch_state, random snapshot, 1 node x {} versions (context)",
                    snapstate_benches::goal::num(self.deep_versions as f64)
                ),
                "ns",
                &self.deep_pair.ours,
                base,
                &self.deep_pair.base,
                Target::None,
            ),
        ]
    }

    fn notes(&self) -> Vec<String> {
        vec![format!(
            "Goal 3 (`g3.*`): {} random reads per measurement (the median of {BATCHES} timed \
             batches) after {} untimed, every answer \
             checked, through `SnapshotArray::fetch_state` itself; the classic side is \
             `Vec<Vec<(u32, u64)>>` with `partition_point`, no lock, on one thread.",
            self.reads,
            self.reads / 8
        )]
    }
}
