//! Goal 6: the cost of a call does not depend on how many arrays a thread uses.
//!
//! - `set_state` on `k` live arrays used round-robin by one thread, against the same
//!   thread pattern on one array. Each `k` has a thread of its own (its own
//!   thread-locals), which owns its arrays for the whole run, so the `k = 1` thread has
//!   only ever touched one array.
//! - Creating, using and dropping an array: time per cycle (beside the same cycle on
//!   the classic solution behind `parking_lot::Mutex`), and resident memory over many
//!   cycles in a child process of its own (a fresh heap that never returns memory, so
//!   a leak shows as growth).

use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::Instant;

use serde_json::{json, Value};
use snapstate::SnapshotArray;
use snapstate_benches::child;
use snapstate_benches::goal::{Row, Target};
use snapstate_benches::stats::{resident_bytes, steady_heap};
use snapstate_benches::{PlMutex, Store};

use crate::Part;

/// Nodes per array.
const LEN: usize = 16;
/// The array counts measured; the goal compares the last with the first.
const KS: [usize; 4] = [1, 100, 1000, 10_000];

/// One thread that owns `k` snapstate arrays and `k` mutex baselines and times
/// round-robin `set_state`s over them on request.
struct Station {
    k: usize,
    jobs: Option<Sender<usize>>,
    results: Receiver<(f64, f64)>,
    handle: Option<JoinHandle<()>>,
}

/// The last value written to node `node` of array `a` by [`sets`] with `k` arrays and
/// `ops` operations, if any.
fn expected(k: usize, ops: u64, a: usize, node: usize) -> Option<u64> {
    (0..ops).rev().find(|&op| {
        (op % k as u64) as usize == a && ((op / k as u64) % LEN as u64) as usize == node
    })
}

/// `ops` sets round-robin over the arrays: op `n` sets node `(n / k) % LEN` of array
/// `n % k` to `n`. Returns ns per set.
fn sets(k: usize, ops: u64, mut set: impl FnMut(usize, usize, u64)) -> f64 {
    let t = Instant::now();
    let (mut a, mut j) = (0usize, 0u64);
    for op in 0..ops {
        set(a, (j % LEN as u64) as usize, op);
        a += 1;
        if a == k {
            a = 0;
            j += 1;
        }
    }
    t.elapsed().as_nanos() as f64 / ops as f64
}

impl Station {
    fn start(k: usize, ops: u64) -> Station {
        let (jobs, job_rx) = channel::<usize>();
        let (res_tx, results) = channel();
        let handle = std::thread::spawn(move || {
            let ours: Vec<SnapshotArray<u64>> = (0..k).map(|_| SnapshotArray::new(LEN)).collect();
            let base: Vec<PlMutex> = (0..k).map(|_| PlMutex::new(LEN)).collect();
            // One untimed set per array: every array has been used by this thread
            // before timing.
            sets(k, k as u64, |a, i, v| {
                ours[a].set_state(i, v).expect("index in range");
                base[a].set_state(i, v);
            });
            while let Ok(round) = job_rx.recv() {
                let run_ours = || {
                    sets(k, ops, |a, i, v| {
                        ours[a].set_state(i, v).expect("index in range")
                    })
                };
                let run_base = || sets(k, ops, |a, i, v| base[a].set_state(i, v));
                let (o, b) = if round.is_multiple_of(2) {
                    let o = run_ours();
                    (o, run_base())
                } else {
                    let b = run_base();
                    (run_ours(), b)
                };
                for a in [0, k / 2, k - 1] {
                    for i in 0..LEN {
                        if let Some(want) = expected(k, ops, a, i) {
                            let got = ours[a].current_state(i).expect("index in range");
                            assert_eq!(got, want, "snapstate: array {a} of {k}, node {i}");
                        }
                    }
                }
                if res_tx.send((o, b)).is_err() {
                    return;
                }
            }
        });
        Station {
            k,
            jobs: Some(jobs),
            results,
            handle: Some(handle),
        }
    }

    fn measure(&self, round: usize) -> (f64, f64) {
        self.jobs
            .as_ref()
            .expect("station running")
            .send(round)
            .expect("station alive");
        self.results
            .recv()
            .unwrap_or_else(|_| panic!("the {}-array thread panicked", self.k))
    }
}

impl Drop for Station {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(h) = self.handle.take() {
            // A panic there was already reported by `measure`.
            let _ = h.join();
        }
    }
}

/// One create, use, drop cycle of a snapstate array, its answers checked.
fn cycle_ours(n: u64) {
    let a = SnapshotArray::<u64>::new(LEN);
    for i in 0..LEN {
        a.set_state(i, n + i as u64).expect("index in range");
    }
    let s = a.snap();
    a.set_state(0, 7).expect("index in range");
    assert_eq!(
        a.fetch_state(3, s),
        Ok(n + 3),
        "snapstate: a fresh array's snapshot"
    );
    assert_eq!(
        a.current_state(0),
        Ok(7),
        "snapstate: a fresh array's current state"
    );
}

/// The same cycle on the classic solution behind `parking_lot::Mutex`.
fn cycle_base(n: u64) {
    let a = PlMutex::new(LEN);
    for i in 0..LEN {
        a.set_state(i, n + i as u64);
    }
    let s = a.snap();
    a.set_state(0, 7);
    assert_eq!(
        a.fetch_state(3, s),
        n + 3,
        "pl-mutex: a fresh array's snapshot"
    );
}

/// Part of a cycle, for context: create and drop only.
fn cycle_new_drop(n: u64) {
    let a = SnapshotArray::<u64>::new(LEN);
    std::hint::black_box((&a, n));
}

/// Part of a cycle, for context: create, one write (the thread registers with the
/// array), drop.
fn cycle_one_set(n: u64) {
    let a = SnapshotArray::<u64>::new(LEN);
    a.set_state(1, n).expect("index in range");
    assert_eq!(
        a.current_state(1),
        Ok(n),
        "snapstate: a fresh array's current state"
    );
}

fn us_per_cycle(cycles: u64, f: fn(u64)) -> f64 {
    let t = Instant::now();
    for n in 0..cycles {
        f(n);
    }
    t.elapsed().as_nanos() as f64 / cycles as f64 / 1e3
}

/// The child side of the resident-memory check: `cycles SIDE N` runs `N` cycles and
/// reports the resident set after the first tenth and at the end.
pub(crate) fn child(args: &[String]) -> Result<Value, String> {
    let (side, n) = match args {
        [side, n] => (
            side.as_str(),
            n.parse::<u64>().map_err(|e| format!("N: {e}"))?,
        ),
        _ => return Err("usage: --child cycles snapstate|pl-mutex N".into()),
    };
    let f: fn(u64) = match side {
        "snapstate" => cycle_ours,
        "pl-mutex" => cycle_base,
        other => return Err(format!("unknown side {other:?} (snapstate or pl-mutex)")),
    };
    steady_heap();
    let rss = || resident_bytes().ok_or("cannot read /proc/self/statm");
    let tenth = n / 10;
    for k in 0..tenth {
        f(k);
    }
    let first = rss()?;
    for k in tenth..n {
        f(k);
    }
    let end = rss()?;
    Ok(
        json!({ "cycles": n, "measured_cycles": n - tenth, "rss_first_tenth": first, "rss_end": end }),
    )
}

/// Goal 6's measurements.
pub(crate) struct Arrays {
    quick: bool,
    cycles: u64,
    stations: Vec<Station>,
    /// Per `k`: snapstate's and the baseline's ns per set, per round.
    sets: Vec<(Vec<f64>, Vec<f64>)>,
    cycle: (Vec<f64>, Vec<f64>),
    /// Context: create + drop, and create + one set + drop, per round.
    parts: (Vec<f64>, Vec<f64>),
    rss: (Vec<f64>, Vec<f64>),
}

impl Arrays {
    pub(crate) fn new(quick: bool) -> Self {
        let (passes, min) = if quick { (1, 1 << 14) } else { (4, 1 << 16) };
        let stations = KS
            .iter()
            .map(|&k| Station::start(k, (passes * k as u64).max(min)))
            .collect();
        Arrays {
            quick,
            cycles: if quick { 1 << 12 } else { 1 << 14 },
            stations,
            sets: KS.iter().map(|_| (Vec::new(), Vec::new())).collect(),
            cycle: (Vec::new(), Vec::new()),
            parts: (Vec::new(), Vec::new()),
            rss: (Vec::new(), Vec::new()),
        }
    }

    fn cycle_round(&mut self, r: usize) {
        // On a fresh thread, so the other goals' arrays are not in its thread-locals.
        let cycles = self.cycles;
        let (o, b, p) = std::thread::scope(|sc| {
            sc.spawn(move || {
                let (o, b) = if r.is_multiple_of(2) {
                    let o = us_per_cycle(cycles, cycle_ours);
                    (o, us_per_cycle(cycles, cycle_base))
                } else {
                    let b = us_per_cycle(cycles, cycle_base);
                    (us_per_cycle(cycles, cycle_ours), b)
                };
                let p = (
                    us_per_cycle(cycles, cycle_new_drop),
                    us_per_cycle(cycles, cycle_one_set),
                );
                (o, b, p)
            })
            .join()
            .expect("the cycle thread panicked")
        });
        self.cycle.0.push(o);
        self.cycle.1.push(b);
        self.parts.0.push(p.0);
        self.parts.1.push(p.1);
    }
}

impl Part for Arrays {
    fn round(&mut self, r: usize) {
        for (st, v) in self.stations.iter().zip(&mut self.sets) {
            let (o, b) = st.measure(r);
            v.0.push(o);
            v.1.push(b);
        }
        self.cycle_round(r);
    }

    fn finish(&mut self) -> Result<(), String> {
        let n = if self.quick { 100_000 } else { 1_000_000 };
        let runs = 3usize;
        for r in 0..runs {
            for side in if r.is_multiple_of(2) {
                ["snapstate", "pl-mutex"]
            } else {
                ["pl-mutex", "snapstate"]
            } {
                let v = child::run(&["cycles", side, &n.to_string()])?;
                let grew = child::field(&v, "rss_end")? - child::field(&v, "rss_first_tenth")?;
                let per = grew.max(0.0) / child::field(&v, "measured_cycles")?;
                if side == "snapstate" {
                    self.rss.0.push(per);
                } else {
                    self.rss.1.push(per);
                }
            }
            eprintln!("goals: g6 resident-memory child {}/{runs} done", r + 1);
        }
        Ok(())
    }

    fn rows(&self) -> Vec<Row> {
        let mut rows = Vec::new();
        let one = &self.sets[0];
        for (i, &k) in KS.iter().enumerate().skip(1) {
            let last = i == KS.len() - 1;
            rows.push(Row::ratio(
                &format!("g6.arrays-{k}"),
                &format!(
                    "set_state, {k} live arrays of {LEN} nodes used round-robin by one thread: time vs one array{}",
                    if last { "" } else { " (context)" }
                ),
                "ns",
                &self.sets[i].0,
                "1 array",
                &one.0,
                if last { Target::AtMost(1.5) } else { Target::None },
            ));
        }
        if let Some(i) = KS.len().checked_sub(1) {
            rows.push(Row::ratio(
                &format!("g6.mutex-arrays-{}", KS[i]),
                &format!(
                    "the same for the pl-mutex classic, one mutex per array: {} arrays vs one (context: what the memory traffic alone costs)",
                    KS[i]
                ),
                "ns",
                &self.sets[i].1,
                "1 array",
                &one.1,
                Target::None,
            ));
        }
        rows.push(Row::value(
            "g6.cycle",
            &format!("create an array of {LEN} nodes, set each node, snap, set, fetch, drop: time per cycle (around a microsecond, read as <= 1.5 us)"),
            "us",
            &self.cycle.0,
            Some(("pl-mutex", &self.cycle.1)),
            Target::AtMost(1.5),
        ));
        rows.push(Row::value(
            "g6.cycle-new-drop",
            &format!("part of that cycle: create and drop an array of {LEN} nodes (context)"),
            "us",
            &self.parts.0,
            None,
            Target::None,
        ));
        rows.push(Row::value(
            "g6.cycle-one-set",
            "part of that cycle: create, one set_state (the thread registers), drop (context)",
            "us",
            &self.parts.1,
            None,
            Target::None,
        ));
        if !self.rss.0.is_empty() {
            rows.push(Row::value(
                "g6.cycle-rss",
                "resident memory growth over the cycles after the first tenth, per cycle (flat: <= 1 byte per cycle)",
                "B/cycle",
                &self.rss.0,
                Some(("pl-mutex", &self.rss.1)),
                Target::AtMost(1.0),
            ));
        }
        rows
    }

    fn notes(&self) -> Vec<String> {
        vec![format!(
            "Goal 6 (`g6.*`): each array count has a thread of its own that owns its arrays \
             (so the one-array thread has never seen another array), used once untimed, then \
             at least {} sets per measurement, checked; cycles: {} per measurement on a fresh \
             thread; resident memory: `goals --child cycles SIDE N` ({} cycles) in a fresh \
             process with a heap that never returns memory (`stats::steady_heap`), \
             `/proc/self/statm` after the first tenth and at the end, 3 runs per side.",
            if self.quick { 1 << 14 } else { 1 << 16 },
            self.cycles,
            if self.quick { 100_000 } else { 1_000_000 },
        )]
    }
}
