//! Kill-and-resume with a real process: `snapstate --checkpoint-dir` is killed with SIGKILL
//! mid-job, several times, restarted with the same directory each time, and finishes with
//! exactly the index and checksum of an uninterrupted run.

#![cfg(unix)]

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const JOB: &[&str] = &["--docs", "1200", "--shards", "64", "--workers", "2"];

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_snapstate"))
}

fn checksum_of(json: &[u8]) -> (String, serde_json::Value) {
    let v: serde_json::Value = serde_json::from_slice(json).expect("JSON summary");
    (
        v["index"]["checksum"]
            .as_str()
            .expect("checksum")
            .to_owned(),
        v,
    )
}

/// The "N of M shards already committed" a resumed run announces, if it resumed.
fn restored(stderr: &str) -> Option<u64> {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("resuming from checkpoint snapshot"))?;
    line.split(": ")
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn wait_for(path: &Path, limit: Duration) {
    let start = Instant::now();
    while !path.exists() {
        assert!(start.elapsed() < limit, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn sigkill_mid_job_then_resume_gives_the_same_index() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();

    let reference = bin()
        .args(JOB)
        .args([
            "--failure-rate",
            "0",
            "--quiet",
            "--json",
            "--out",
            "reference",
        ])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(reference.status.success());
    let (want, _) = checksum_of(&reference.stdout);

    // Slow shards (25 ms each) and frequent snapshots, with injected failures too; each
    // attempt is killed a little later after its first durable checkpoint.
    let run_args = |extra: &[&'static str]| {
        let mut args: Vec<&str> = JOB.to_vec();
        args.extend([
            "--checkpoint-dir",
            "ckpt",
            "--out",
            "out",
            "--slow",
            "25",
            "--snapshot-every",
            "10",
            "--failure-rate",
            "0.05",
            "--fault-seed",
            "11",
            "--stall-timeout",
            "300",
        ]);
        args.extend_from_slice(extra);
        args
    };
    let progress = dir.join("ckpt/progress.ckpt");
    let mut last_restored = 0;
    for (attempt, delay_ms) in [0u64, 150, 300].into_iter().enumerate() {
        let mut child = bin()
            .args(run_args(&[]))
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if attempt == 0 {
            wait_for(&progress, Duration::from_secs(60));
        } else {
            // Wait until this run has written a checkpoint of its own.
            let before = std::fs::metadata(&progress).unwrap().modified().unwrap();
            let start = Instant::now();
            while std::fs::metadata(&progress).unwrap().modified().unwrap() == before {
                assert!(
                    start.elapsed() < Duration::from_secs(60),
                    "no new checkpoint"
                );
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        std::thread::sleep(Duration::from_millis(delay_ms));
        assert!(
            child.try_wait().unwrap().is_none(),
            "attempt {attempt}: the job finished before it could be killed; make it slower"
        );
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        assert!(!status.success());
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert!(
            !dir.join("out/index.snapidx").exists(),
            "a killed run must not leave an index behind"
        );
        if attempt > 0 {
            let n =
                restored(&err).unwrap_or_else(|| panic!("attempt {attempt} did not resume: {err}"));
            assert!(
                n >= last_restored,
                "progress went back: {n} < {last_restored}"
            );
            last_restored = n;
        }
    }

    let last = bin()
        .args(run_args(&["--json"]))
        .current_dir(dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&last.stderr);
    assert!(last.status.success(), "{err}");
    let n = restored(&err).expect("the last run resumed");
    assert!(n >= last_restored && n > 0, "restored {n}");
    let leftovers: Vec<_> = std::fs::read_dir(dir.join("ckpt"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    let (got, summary) = checksum_of(&last.stdout);
    assert_eq!(got, want, "checksum after kills and resumes");
    assert_eq!(summary["run"]["restored"].as_u64(), Some(n));
    assert!(summary["run"]["resumed_from"].is_u64());
    assert_eq!(
        std::fs::read(dir.join("out/index.snapidx")).unwrap(),
        std::fs::read(dir.join("reference/index.snapidx")).unwrap(),
        "index bytes after kills and resumes"
    );
}
