//! The classic solution, and the three global locks it is put behind.
//!
//! Per node a `Vec<(snap_id, value)>`, sorted by `snap_id`: a set in the current snapshot
//! overwrites the last entry in place, otherwise pushes; a fetch binary-searches for the
//! last entry at or below the snapshot. Every operation runs under one lock, so every
//! baseline built from it is linearizable.

use crate::Store;

/// The single-threaded classic solution.
#[derive(Debug, Clone)]
pub struct Classic {
    nodes: Vec<Vec<(u32, u64)>>,
    snaps: u32,
}

impl Classic {
    /// `n` nodes, all 0.
    pub fn new(n: usize) -> Self {
        Classic {
            nodes: vec![vec![(0, 0)]; n],
            snaps: 0,
        }
    }

    /// Sets node `i` to `v` in the current snapshot.
    #[inline]
    pub fn set(&mut self, i: usize, v: u64) {
        let snaps = self.snaps;
        let log = &mut self.nodes[i];
        match log.last_mut() {
            Some(last) if last.0 == snaps => last.1 = v,
            _ => log.push((snaps, v)),
        }
    }

    /// Closes the current snapshot and returns its id.
    #[inline]
    pub fn snap(&mut self) -> u64 {
        self.snaps += 1;
        u64::from(self.snaps - 1)
    }

    /// Node `i` as of snapshot `s`.
    #[inline]
    pub fn fetch(&self, i: usize, s: u64) -> u64 {
        let s = u32::try_from(s).unwrap_or(u32::MAX);
        let log = &self.nodes[i];
        match log.partition_point(|&(e, _)| e <= s) {
            0 => 0,
            k => log[k - 1].1,
        }
    }
}

/// A lock around a [`Classic`].
pub trait Lock: Send + Sync + 'static {
    /// The baseline's name.
    const NAME: &'static str;
    /// Wraps `c`.
    fn new(c: Classic) -> Self;
    /// Runs `f` with exclusive access.
    fn write<R>(&self, f: impl FnOnce(&mut Classic) -> R) -> R;
    /// Runs `f` with shared access (exclusive for mutexes).
    fn read<R>(&self, f: impl FnOnce(&Classic) -> R) -> R;
}

/// [`Classic`] behind the lock `L`: the baselines `std-mutex`, `pl-mutex`, `pl-rwlock`.
#[derive(Debug)]
pub struct Locked<L>(L);

impl<L: Lock> Store for Locked<L> {
    const NAME: &'static str = L::NAME;
    const LINEARIZABLE: bool = true;

    fn new(n: usize) -> Self {
        Locked(L::new(Classic::new(n)))
    }
    #[inline]
    fn set_state(&self, idx: usize, v: u64) {
        self.0.write(|c| c.set(idx, v));
    }
    #[inline]
    fn snap(&self) -> u64 {
        self.0.write(Classic::snap)
    }
    #[inline]
    fn fetch_state(&self, idx: usize, s: u64) -> u64 {
        self.0.read(|c| c.fetch(idx, s))
    }
    fn read_snapshot(&self, s: u64, n: usize, out: &mut Vec<u64>) {
        // One lock hold: consistent, as a user of the classic solution would write it.
        out.clear();
        self.0.read(|c| out.extend((0..n).map(|i| c.fetch(i, s))));
    }
}

/// `std::sync::Mutex<Classic>`.
#[derive(Debug)]
pub struct StdMutexLock(std::sync::Mutex<Classic>);
/// `parking_lot::Mutex<Classic>`.
#[derive(Debug)]
pub struct PlMutexLock(parking_lot::Mutex<Classic>);
/// `parking_lot::RwLock<Classic>`.
#[derive(Debug)]
pub struct PlRwLockLock(parking_lot::RwLock<Classic>);

/// The classic solution behind `std::sync::Mutex`.
pub type StdMutex = Locked<StdMutexLock>;
/// The classic solution behind `parking_lot::Mutex` (the goals' reference baseline).
pub type PlMutex = Locked<PlMutexLock>;
/// The classic solution behind `parking_lot::RwLock`.
pub type PlRwLock = Locked<PlRwLockLock>;

impl Lock for StdMutexLock {
    const NAME: &'static str = "std-mutex";
    fn new(c: Classic) -> Self {
        StdMutexLock(std::sync::Mutex::new(c))
    }
    #[inline]
    fn write<R>(&self, f: impl FnOnce(&mut Classic) -> R) -> R {
        // A panic inside `f` is a harness bug; poisoning is not a case to handle here.
        f(&mut self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
    #[inline]
    fn read<R>(&self, f: impl FnOnce(&Classic) -> R) -> R {
        f(&self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Lock for PlMutexLock {
    const NAME: &'static str = "pl-mutex";
    fn new(c: Classic) -> Self {
        PlMutexLock(parking_lot::Mutex::new(c))
    }
    #[inline]
    fn write<R>(&self, f: impl FnOnce(&mut Classic) -> R) -> R {
        f(&mut self.0.lock())
    }
    #[inline]
    fn read<R>(&self, f: impl FnOnce(&Classic) -> R) -> R {
        f(&self.0.lock())
    }
}

impl Lock for PlRwLockLock {
    const NAME: &'static str = "pl-rwlock";
    fn new(c: Classic) -> Self {
        PlRwLockLock(parking_lot::RwLock::new(c))
    }
    #[inline]
    fn write<R>(&self, f: impl FnOnce(&mut Classic) -> R) -> R {
        f(&mut self.0.write())
    }
    #[inline]
    fn read<R>(&self, f: impl FnOnce(&Classic) -> R) -> R {
        f(&self.0.read())
    }
}

#[cfg(test)]
mod tests {
    use super::Classic;

    #[test]
    fn classic_matches_the_walkthrough() {
        let mut c = Classic::new(3);
        c.set(1, 4);
        c.set(1, 5);
        let s0 = c.snap();
        c.set(1, 7);
        assert_eq!(c.fetch(1, s0), 5);
        assert_eq!(c.fetch(0, s0), 0);
        let s1 = c.snap();
        assert_eq!(c.fetch(1, s1), 7);
        assert_eq!(
            c.nodes[1].len(),
            2,
            "two sets in one snapshot keep one entry"
        );
    }
}
