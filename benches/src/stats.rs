//! Medians and small measurement helpers.

use std::time::Instant;

/// The median of `v` (the upper one for an even count); `NaN` for an empty slice.
pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Nanoseconds per operation of `f`, which performs `ops` operations.
pub fn ns_per_op(ops: u64, f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_nanos() as f64 / ops as f64
}

/// Resident memory of this process in bytes, from `/proc/self/statm` (Linux);
/// `None` elsewhere.
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // The page size is 4 KiB on every Linux target this runs on (x86_64, aarch64 default).
    Some(pages * page_size())
}

fn page_size() -> u64 {
    // /proc/self/smaps would tell; 4096 is the kernel default on x86_64.
    4096
}

/// Keeps freed memory in the process (glibc: no trimming, no per-allocation `mmap`
/// below 32 MiB), so that a measurement does not pay the kernel for fresh pages that an
/// earlier measurement already had: every round after the first runs on a warm heap,
/// as a long-running program with a steady working set does. Without this, the page
/// faults of each fresh store (zeroing, `mmap`, `munmap`) swamp the differences between
/// implementations and depend on the allocator's history (measured here: snapstate's
/// `set_state` 42-55 ns with trimming, 15-20 ns without; the mutex baseline 21-35 vs
/// 10-12). Call once at the start of a benchmark process; a no-op elsewhere.
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
    use super::median;

    #[test]
    fn median_picks_the_middle() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 3.0);
        assert!(median(&[]).is_nan());
    }
}
