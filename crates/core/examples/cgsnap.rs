//! Callgrind driver: `valgrind --tool=callgrind target/release/examples/cgsnap`.
use snapstate::SnapshotArray;
fn main() {
    let a: SnapshotArray = SnapshotArray::new(1024);
    a.set_state(0, 1).unwrap(); // register this thread as a writer
    for _ in 0..1_000_000 {
        std::hint::black_box(a.snap());
    }
    for k in 0..1_000_000u64 {
        a.set_state(1, k).unwrap();
    }
}
