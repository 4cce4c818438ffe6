//! What machine a measurement ran on, and how loaded it was.

/// The CPU model, the CPU count and the load average now, in one line, e.g.
/// `Intel(R) Xeon(R) Processor, 2 CPUs, load average 0.34 0.21 0.08 (1, 5, 15 min)`.
///
/// # Examples
///
/// ```
/// let line = snapstate_benches::machine::describe();
/// assert!(line.contains("CPUs"));
/// ```
pub fn describe() -> String {
    format!(
        "{}, {} CPUs, load average {} (1, 5, 15 min)",
        cpu_model(),
        cpus(),
        load_average()
    )
}

/// The CPU model from `/proc/cpuinfo` (`unknown CPU` where there is none).
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// The CPUs this process may run on (what `nproc` prints).
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The 1, 5 and 15 minute load averages from `/proc/loadavg` (`unknown` elsewhere).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}
