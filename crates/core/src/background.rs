//! [`Background`]: the compactor thread a [`Builder`](crate::Builder) with retention
//! starts. It sleeps until nudged, runs its pass, rests for the interval, and is joined
//! when its handle is stopped. It knows nothing of arrays: the pass is a closure.

use std::fmt;
use std::time::Duration;

/// The background compactor's handle, owned by the array.
#[cfg(not(snapstate_loom))]
pub(crate) struct Background {
    signal: std::sync::Arc<Signal>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Loom models never build a background thread; this stands in for it.
#[cfg(snapstate_loom)]
pub(crate) struct Background;

#[cfg(not(snapstate_loom))]
#[derive(Default)]
struct Signal {
    // Not modelled by loom on purpose: the compactor thread exists only outside loom.
    due: std::sync::atomic::AtomicBool,
    stop: std::sync::atomic::AtomicBool,
}

#[cfg(not(snapstate_loom))]
impl Background {
    /// Starts a thread that runs `pass` once per nudge, at most once per `interval`;
    /// `None` if no thread can be spawned.
    pub(crate) fn start(
        interval: Duration,
        pass: impl Fn() + Send + 'static,
    ) -> Option<Background> {
        use std::sync::atomic::Ordering;

        let signal = std::sync::Arc::new(Signal::default());
        let thread_signal = std::sync::Arc::clone(&signal);
        let thread = std::thread::Builder::new()
            .name("snapstate-compactor".into())
            .spawn(move || loop {
                // Acquire: pairs with the Release in `stop`.
                if thread_signal.stop.load(Ordering::Acquire) {
                    return;
                }
                // AcqRel: consumes a nudge (Acquire pairs with `nudge`'s Release).
                if !thread_signal.due.swap(false, Ordering::AcqRel) {
                    // Nothing due: sleep until a nudge or `stop` unparks us (an unpark
                    // that came after the swap above makes this return at once).
                    std::thread::park();
                    continue;
                }
                pass();
                // Rest for the interval, waking early only to stop.
                let start = std::time::Instant::now();
                while start.elapsed() < interval {
                    std::thread::park_timeout(interval.saturating_sub(start.elapsed()));
                    // Acquire: as above.
                    if thread_signal.stop.load(Ordering::Acquire) {
                        return;
                    }
                }
            })
            // A thread that cannot be spawned leaves compaction to explicit calls.
            .ok()?;
        Some(Background {
            signal,
            thread: Some(thread),
        })
    }

    /// Tells the compactor the floor moved. Cheap when it is already due.
    pub(crate) fn nudge(&self) {
        use std::sync::atomic::Ordering;
        // AcqRel: Release pairs with the compactor's Acquire swap; only the first nudge
        // after a pass pays for the unpark.
        if !self.signal.due.swap(true, Ordering::AcqRel) {
            if let Some(thread) = &self.thread {
                thread.thread().unpark();
            }
        }
    }

    /// Stops and joins the compactor.
    pub(crate) fn stop(mut self) {
        use std::sync::atomic::Ordering;
        // Release: pairs with the compactor's Acquire loads of `stop`.
        self.signal.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            // A panic in the compactor has already been reported on its thread; the
            // array is still consistent (reclamation only frees what it unlinked).
            let _ = thread.join();
        }
    }
}

#[cfg(snapstate_loom)]
impl Background {
    pub(crate) fn start(_: Duration, _: impl Fn() + Send + 'static) -> Option<Background> {
        None
    }

    pub(crate) fn nudge(&self) {}

    pub(crate) fn stop(self) {}
}

impl fmt::Debug for Background {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Background")
    }
}
