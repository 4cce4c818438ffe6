//! The checker is itself tested: it must reject known-bad histories (the trap, a torn
//! cut, a reused snapshot id, a stale read) and agree with brute force on many random
//! small histories, both linearizable and not.

use super::*;
use crate::history::{Event, History, Op, Ret, Stamp};

fn ev(thread: usize, op: Op, ret: Ret, call: u64, done: u64) -> Event {
    Event {
        thread,
        op,
        ret,
        call: Stamp::Tick(call),
        done: Stamp::Tick(done),
    }
}

fn set(idx: usize, value: u64) -> Op {
    Op::Set { idx, value }
}

fn fetch(idx: usize, snap: u64) -> Op {
    Op::Fetch { idx, snap }
}

/// The trap of the design notes, as recorded: a read of snapshot 0 before the writer
/// returned saw the old state, one after saw the new.
fn trap() -> History {
    History::new(
        1,
        vec![
            ev(1, set(0, 7), Ret::Done, 0, 9),
            ev(0, Op::Snap, Ret::Snap(0), 1, 2),
            ev(0, fetch(0, 0), Ret::Value(0), 3, 4),
            ev(0, fetch(0, 0), Ret::Value(7), 10, 11),
        ],
    )
}

#[test]
fn rejects_the_trap() {
    let err = check(&trap()).unwrap_err();
    assert!(matches!(err, CheckError::NotLinearizable { .. }), "{err}");
    // Either read alone is fine: it is the pair that no order explains.
    for drop in [2, 3] {
        let mut h = trap();
        h.events.remove(drop);
        assert!(check(&h).is_ok(), "without event {drop}:\n{h}");
    }
}

/// Writer sets node 0 then node 1; a snapshot shows node 1 written but node 0 not.
fn torn_cut() -> History {
    History::new(
        2,
        vec![
            ev(1, set(0, 1), Ret::Done, 0, 1),
            ev(1, set(1, 1), Ret::Done, 2, 3),
            ev(0, Op::Snap, Ret::Snap(0), 0, 10),
            ev(0, fetch(1, 0), Ret::Value(1), 11, 12),
            ev(0, fetch(0, 0), Ret::Value(0), 13, 14),
        ],
    )
}

/// The events of `h` on node `idx`, plus every snap: one per-node projection.
fn project(h: &History, idx: usize) -> History {
    let on_node = |op: &Op| match *op {
        Op::Set { idx: i, .. }
        | Op::Fetch { idx: i, .. }
        | Op::Current { idx: i }
        | Op::Advance { idx: i, .. } => i == idx,
        Op::Snap | Op::Compact { .. } | Op::Pin { .. } | Op::Unpin { .. } => true,
    };
    let events = h
        .events
        .iter()
        .filter(|e| on_node(&e.op))
        .map(|e| {
            let mut e = *e;
            match &mut e.op {
                Op::Set { idx, .. }
                | Op::Fetch { idx, .. }
                | Op::Current { idx }
                | Op::Advance { idx, .. } => *idx = 0,
                Op::Snap | Op::Compact { .. } | Op::Pin { .. } | Op::Unpin { .. } => {}
            }
            e
        })
        .collect();
    History::new(1, events)
}

#[test]
fn rejects_a_torn_cut_that_every_per_node_projection_accepts() {
    let h = torn_cut();
    assert!(check(&h).is_err());
    for idx in 0..2 {
        let p = project(&h, idx);
        assert!(check(&p).is_ok(), "projection on node {idx}:\n{p}");
    }
}

#[test]
fn rejects_a_reused_snapshot_id_and_a_stale_read() {
    let reused = History::new(
        1,
        vec![
            ev(0, Op::Snap, Ret::Snap(0), 0, 3),
            ev(1, Op::Snap, Ret::Snap(0), 1, 2),
        ],
    );
    assert!(check(&reused).is_err());
    let stale = History::new(
        1,
        vec![
            ev(0, set(0, 5), Ret::Done, 0, 1),
            ev(1, Op::Current { idx: 0 }, Ret::Value(0), 2, 3),
        ],
    );
    assert!(check(&stale).is_err());
    let too_early = History::new(
        1,
        vec![
            ev(0, Op::Snap, Ret::Snap(0), 0, 1),
            ev(1, fetch(0, 0), Ret::NotTaken, 2, 3),
        ],
    );
    assert!(check(&too_early).is_err());
}

#[test]
fn accepts_overlaps_resolved_either_way() {
    // Snap overlapping the set: the snapshot may or may not contain it, but its readers
    // must agree, and a NotTaken may be ordered before the overlapping snap.
    for seen in [0, 7] {
        let h = History::new(
            1,
            vec![
                ev(1, set(0, 7), Ret::Done, 0, 5),
                ev(0, Op::Snap, Ret::Snap(0), 1, 4),
                ev(2, fetch(0, 0), Ret::NotTaken, 2, 3),
                ev(2, fetch(0, 0), Ret::Value(seen), 6, 7),
                ev(0, fetch(0, 0), Ret::Value(seen), 8, 9),
                ev(0, Op::Current { idx: 0 }, Ret::Value(7), 10, 11),
            ],
        );
        assert!(check(&h).is_ok(), "{h}");
    }
}

#[test]
fn refuses_histories_too_large_to_encode() {
    let events = (0..=MAX_OPS as u64)
        .map(|t| ev(0, Op::Snap, Ret::Snap(t), 2 * t, 2 * t + 1))
        .collect();
    let h = History::new(1, events);
    assert!(matches!(check(&h), Err(CheckError::TooLarge { .. })));
    let mut h = h;
    h.events.pop();
    assert_eq!(check(&h).unwrap().len(), MAX_OPS);
}

/// A small deterministic generator (xorshift64*), so failures replay.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// A random history that is linearizable by construction: random per-thread intervals,
/// a random point inside each, results from replaying the points' order on the spec.
/// Then, half the time, one result is changed.
fn random_history(rng: &mut Rng) -> History {
    let nodes = 1 + rng.below(2) as usize;
    let threads = 2 + rng.below(2) as usize;
    let ops = 3 + rng.below(5) as usize;
    let mut events = Vec::new();
    let mut points = Vec::new();
    let mut cursor = vec![0u64; threads];
    let mut value = 0;
    for _ in 0..ops {
        let t = rng.below(threads as u64) as usize;
        let call = cursor[t] + rng.below(4);
        let done = call + 1 + rng.below(12);
        cursor[t] = done + 1;
        let op = match rng.below(6) {
            0 => {
                value += 1;
                set(rng.below(nodes as u64) as usize, value)
            }
            1 => Op::Snap,
            2 => fetch(rng.below(nodes as u64) as usize, rng.below(3)),
            3 if rng.below(2) == 0 => Op::Advance {
                idx: rng.below(nodes as u64) as usize,
                value: rng.below(value + 2),
            },
            3 => Op::Compact {
                before: rng.below(3),
            },
            _ => Op::Current {
                idx: rng.below(nodes as u64) as usize,
            },
        };
        points.push((call * 16 + rng.below((done - call) * 16), events.len()));
        events.push(ev(t, op, Ret::Done, call, done));
    }
    points.sort();
    let mut state = State::new(nodes);
    for (_, i) in points {
        events[i].ret = state.step(&events[i].op).expect("valid ops");
    }
    if rng.below(2) == 0 {
        let i = rng.below(events.len() as u64) as usize;
        events[i].ret = match events[i].ret {
            Ret::Done => Ret::Done,
            Ret::Snap(s) => Ret::Snap(s ^ 1),
            Ret::Value(v) => Ret::Value(if v == 0 { rng.below(value + 1) } else { 0 }),
            Ret::NotTaken => Ret::Value(0),
            Ret::Compacted(f) => Ret::Compacted(f + 1),
            Ret::Raised(r) => Ret::Raised(!r),
            Ret::Floor(f) => Ret::Floor(f ^ 1),
            Ret::Pinned => Ret::NotTaken,
        };
    }
    History::new(nodes, events)
}

/// Tries every order of the events.
fn brute_force(h: &History) -> bool {
    fn go(h: &History, left: &mut Vec<usize>, placed: &mut Vec<usize>, state: &State) -> bool {
        if left.is_empty() {
            return true;
        }
        for k in 0..left.len() {
            let i = left[k];
            let minimal = left
                .iter()
                .all(|&j| j == i || !h.events[j].done.precedes(&h.events[i].call));
            let mut next = state.clone();
            if !minimal || next.step(&h.events[i].op) != Some(h.events[i].ret) {
                continue;
            }
            left.remove(k);
            placed.push(i);
            if go(h, left, placed, &next) {
                return true;
            }
            placed.pop();
            left.insert(k, i);
        }
        false
    }
    let mut left: Vec<usize> = (0..h.events.len()).collect();
    go(h, &mut left, &mut Vec::new(), &State::new(h.nodes))
}

#[test]
fn agrees_with_brute_force_on_random_histories() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut yes, mut no) = (0, 0);
    for round in 0..3000 {
        let h = random_history(&mut rng);
        let expected = brute_force(&h);
        let got = check(&h);
        assert_eq!(got.is_ok(), expected, "round {round}:\n{h}");
        if let Ok(order) = got {
            // The witness is a valid order: replay it.
            let mut state = State::new(h.nodes);
            for (k, &i) in order.iter().enumerate() {
                assert_eq!(state.step(&h.events[i].op), Some(h.events[i].ret));
                for &j in &order[k + 1..] {
                    assert!(!h.events[j].done.precedes(&h.events[i].call));
                }
            }
            yes += 1;
        } else {
            no += 1;
        }
    }
    // Both verdicts must be well represented, or the comparison proves little.
    assert!(yes > 1000 && no > 500, "linearizable {yes}, not {no}");
}
