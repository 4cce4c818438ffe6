//! Long-lived worker threads for the multi-threaded measurements.
//!
//! Spawning fresh threads for every measurement gives each one a fresh allocator arena
//! (glibc keeps one per thread, up to 8 per core), so every measurement pays the kernel
//! for fresh pages again, and implementations that allocate more often (snapstate's
//! zeroed segments, the skiplist's nodes) pay most. Measured here on `set-distinct`,
//! 1 thread: snapstate 23 Mops/s on fresh threads, 43 with a single shared arena; the
//! mutex baseline 71-75 either way. Workers that live for the whole run keep their
//! arenas warm, as the threads of a long-running program do.

use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Barrier, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Instant;

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of worker threads, each fed jobs through its own channel.
#[derive(Debug)]
pub struct Pool {
    workers: Mutex<Vec<(Sender<Job>, JoinHandle<()>)>>,
}

impl Pool {
    fn new() -> Self {
        Pool {
            workers: Mutex::new(Vec::new()),
        }
    }

    /// Runs `f(t)` for `t` in `0..threads`, worker `t` running `f(t)`, all released
    /// together by a barrier. Returns the span in seconds from the first worker's start
    /// to the last one's end (each worker reads the clock itself, so a descheduled
    /// caller cannot shorten it).
    ///
    /// # Panics
    ///
    /// If a worker panics inside `f` (a harness bug).
    pub fn span(&self, threads: usize, f: Arc<dyn Fn(usize) + Send + Sync>) -> f64 {
        let threads = threads.max(1);
        let start = Arc::new(Barrier::new(threads));
        let (tx, rx) = channel::<(Instant, Instant)>();
        {
            let mut workers = self.workers.lock().unwrap_or_else(|p| p.into_inner());
            while workers.len() < threads {
                let (jtx, jrx) = channel::<Job>();
                let h = std::thread::spawn(move || {
                    while let Ok(job) = jrx.recv() {
                        job();
                    }
                });
                workers.push((jtx, h));
            }
            for (t, (jtx, _)) in workers.iter().take(threads).enumerate() {
                let (f, start, tx) = (Arc::clone(&f), Arc::clone(&start), tx.clone());
                let job: Job = Box::new(move || {
                    start.wait();
                    let t0 = Instant::now();
                    f(t);
                    let t1 = Instant::now();
                    // Release what `f` holds (a store) before reporting, so the caller
                    // owns the last reference once every report is in.
                    drop(f);
                    // The receiver outlives every job (it waits for all of them).
                    let _ = tx.send((t0, t1));
                });
                jtx.send(job).expect("pool worker alive");
            }
        }
        drop(tx);
        let times: Vec<(Instant, Instant)> = rx.iter().collect();
        assert_eq!(times.len(), threads, "a pool worker panicked");
        let first = times.iter().map(|t| t.0).min().expect("at least one");
        let last = times.iter().map(|t| t.1).max().expect("at least one");
        (last - first).as_secs_f64()
    }
}

/// The process-wide pool (workers are created on first use and live until exit).
pub fn global() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(Pool::new)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn every_worker_runs_once_per_span() {
        let hits = Arc::new(AtomicUsize::new(0));
        for threads in [1, 3, 2] {
            let h = Arc::clone(&hits);
            let secs = super::global().span(
                threads,
                Arc::new(move |t| {
                    h.fetch_add(t + 1, Ordering::Relaxed);
                }),
            );
            assert!(secs >= 0.0);
        }
        // 1 + (1+2+3) + (1+2)
        assert_eq!(hits.load(Ordering::Relaxed), 10);
    }
}
