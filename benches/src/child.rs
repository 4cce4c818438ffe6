//! Measurements that run in a child process of the same binary, so that what one
//! measures (resident memory above all) is not shaped by what the parent allocated and
//! freed before. The child is the binary itself with `--child NAME ARGS...`; it prints
//! one JSON object on its last line of output, which [`run`] parses.

use std::process::Command;

use serde_json::Value;

/// Runs this executable with `--child` and `args`, and returns the JSON object its
/// last line of standard output holds.
///
/// # Errors
///
/// A message naming the child and saying what went wrong: it could not start, it
/// failed (with its standard error), or its output was not JSON.
pub fn run(args: &[&str]) -> Result<Value, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this executable: {e}"))?;
    let out = Command::new(&exe)
        .arg("--child")
        .args(args)
        .output()
        .map_err(|e| format!("cannot start child {args:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "child {args:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or("");
    serde_json::from_str(last).map_err(|e| format!("child {args:?} printed {last:?}: {e}"))
}

/// The number field `key` of a child's answer.
///
/// # Errors
///
/// If the field is missing or not a number.
pub fn field(v: &Value, key: &str) -> Result<f64, String> {
    v.get(key)
        .and_then(Value::as_f64)
        .ok_or_else(|| format!("child answer {v} has no number {key:?}"))
}
