//! Medians, percentiles, spreads and the process's resident memory.

use std::time::Instant;

/// The median of `v`: the middle value, or the mean of the two middle values for an
/// even count; `NaN` for an empty slice.
///
/// # Examples
///
/// ```
/// use snapstate_benches::stats::median;
/// assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
/// assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
/// ```
pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// The smallest and the largest value of `v` (`(NaN, NaN)` for an empty slice).
pub fn min_max(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    v.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        })
}

/// The `q`-quantile (`0.0..=1.0`) of an ascending slice, by the nearest-rank rule: the
/// smallest value with at least `q` of the samples at or below it. `NaN` when empty.
///
/// # Examples
///
/// ```
/// use snapstate_benches::stats::percentile;
/// let v: Vec<f64> = (1..=1000).map(f64::from).collect();
/// assert_eq!(percentile(&v, 0.5), 500.0);
/// assert_eq!(percentile(&v, 0.999), 999.0);
/// assert_eq!(percentile(&v, 1.0), 1000.0);
/// ```
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Nanoseconds per operation of `f`, which performs `ops` operations.
pub fn ns_per_op(ops: u64, f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_nanos() as f64 / ops as f64
}

/// Nanoseconds per operation, as the median over `batches` timed batches of `f(ops)`,
/// where `f(n)` performs `n` operations. A batch that a preemption lands in (the machine
/// is shared) is an outlier the median ignores, where one long timing would absorb it.
///
/// # Examples
///
/// ```
/// let ns = snapstate_benches::stats::median_ns_per_op(5, 1000, |n| {
///     for i in 0..n {
///         std::hint::black_box(i);
///     }
/// });
/// assert!(ns >= 0.0);
/// ```
pub fn median_ns_per_op(batches: usize, ops: u64, mut f: impl FnMut(u64)) -> f64 {
    let v: Vec<f64> = (0..batches.max(1))
        .map(|_| ns_per_op(ops, || f(ops)))
        .collect();
    median(&v)
}

/// Resident memory of this process in bytes, from `/proc/self/statm` (Linux);
/// `None` elsewhere.
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

/// The peak resident memory of this process in bytes (`VmHWM` in `/proc/self/status`,
/// Linux); `None` elsewhere.
pub fn peak_resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn page_size() -> u64 {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `sysconf` only reads a system constant; it takes a plain integer.
        let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        if p > 0 {
            return p as u64;
        }
    }
    // The kernel default on x86_64 and aarch64.
    4096
}

/// Keeps freed memory in the process (glibc: no trimming, no per-allocation `mmap`
/// below 32 MiB), so that a measurement does not pay the kernel for fresh pages that an
/// earlier measurement already had: every round after the first runs on a warm heap,
/// as a long-running program with a steady working set does. Without this, the page
/// faults of each fresh store (zeroing, `mmap`, `munmap`) swamp the differences between
/// implementations and depend on the allocator's history (measured here: snapstate's
/// `set_state` 42-55 ns with trimming, 15-20 ns without; the mutex baseline 21-35 vs
/// 10-12). It also makes resident memory a high-water mark of the heap, so a leak shows
/// as growth. Call once at the start of a benchmark process; a no-op elsewhere.
pub fn steady_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallopt` only changes allocator parameters; it is called before the
        // measurements and takes plain integers. Its return value (1 on success) is not
        // needed: on failure the defaults stay, which only makes numbers noisier.
        unsafe {
            libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
            libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{median, min_max, percentile};

    #[test]
    fn median_picks_the_middle() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn spread_and_percentiles() {
        assert_eq!(min_max(&[2.0, -1.0, 5.0]), (-1.0, 5.0));
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile(&v, 0.0), 1.0);
        assert_eq!(percentile(&v, 0.5), 2.0);
        assert_eq!(percentile(&v, 0.51), 3.0);
        assert_eq!(percentile(&v, 0.99), 4.0);
        assert!(percentile(&[], 0.5).is_nan());
    }

    #[test]
    fn resident_memory_is_readable_here() {
        if cfg!(target_os = "linux") {
            let now = super::resident_bytes().expect("statm");
            let peak = super::peak_resident_bytes().expect("status");
            assert!(now > 0 && peak >= now, "now {now} peak {peak}");
        }
    }
}
