//! Memory stays bounded under retention. Long: run with
//! `cargo test -p snapstate --release --test memory -- --ignored --nocapture`.
#![cfg(not(snapstate_loom))]

use snapstate::SnapshotArray;

/// Resident memory of this process in bytes (Linux `/proc/self/statm`).
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// 4096 nodes, 40 million sets at random nodes, a snap every 1000 sets, only the last 8
/// snapshots kept (the builder's retention moves the floor), reclaimed every 8 snaps by
/// the writing thread itself. Resident memory at the end must be within 1.25x of a
/// quarter of the way in.
///
/// The reclamation runs on the writing thread so the bound does not depend on how much
/// CPU time a background compactor gets on a busy machine: with the background thread
/// (the builder's default) and a writer doing 17 M sets/s on 2 shared cores, a compactor
/// descheduled for 100 ms lets 1.7 M versions pile up, and the process keeps the peak
/// resident (the allocator does not return freed memory at once).
#[test]
#[ignore = "long: run in release with --ignored"]
fn retention_keeps_resident_memory_flat() {
    const NODES: usize = 4096;
    const SETS: u64 = 40_000_000;
    let Some(start) = resident_bytes() else {
        eprintln!("no /proc/self/statm: skipping");
        return;
    };
    let a: SnapshotArray = SnapshotArray::builder().len(NODES).retain_last(8).build();
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut quarter = 0;
    for k in 0..SETS {
        let node = (xorshift(&mut x) % NODES as u64) as usize;
        a.set_state(node, k).unwrap();
        if k % 1000 == 999 {
            let s = a.snap();
            if s.get() % 8 == 7 {
                // Reclaims up to the floor retention has already moved.
                a.compact(a.oldest_readable()).unwrap();
            }
        }
        if k == SETS / 4 {
            quarter = resident_bytes().unwrap();
        }
    }
    let end = resident_bytes().unwrap();
    let stats = a.stats();
    eprintln!(
        "resident: start {:.1} MiB, quarter {:.1} MiB, end {:.1} MiB ({:.3}x); {stats:?}; {:.1} bytes held per version",
        start as f64 / 1048576.0,
        quarter as f64 / 1048576.0,
        end as f64 / 1048576.0,
        end as f64 / quarter as f64,
        stats.bytes as f64 / stats.versions as f64,
    );
    assert!(
        end as f64 <= quarter as f64 * 1.25,
        "resident memory grew from {quarter} to {end} bytes"
    );
}
