//! The checkpoint directory: resume from it, and refuse, with a typed error, one that is
//! foreign, corrupt, or another job's.

use std::fs;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use snapstate_coordinator::{
    CheckpointDir, CheckpointDirError, Coordinator, CoordinatorConfig, CoordinatorError,
    Fingerprint, Job, JobError, JobIdentity, NoopObserver, RunStats, TaskContext,
};

/// Subtask `k` outputs `k³`; `name` is the job's identity.
struct Cubes {
    name: &'static str,
    n: usize,
}

impl Job for Cubes {
    type Output = u64;
    fn identity(&self) -> JobIdentity {
        JobIdentity::new(self.name)
    }
    fn subtasks(&self) -> usize {
        self.n
    }
    fn run(&self, k: usize, _: &TaskContext) -> Result<u64, JobError> {
        Ok((k * k * k) as u64)
    }
}

fn expected(n: usize) -> Vec<u64> {
    (0..n).map(|k| (k * k * k) as u64).collect()
}

fn run_in(
    dir: &Path,
    job: &'static str,
    n: usize,
    workers: usize,
) -> Result<(Vec<u64>, RunStats), CoordinatorError> {
    let config = CoordinatorConfig::new(workers)?
        .snapshot_interval(Duration::from_millis(1))
        .checkpoint_dir(dir);
    let run = Coordinator::new(Cubes { name: job, n }, config).run(Arc::new(NoopObserver))?;
    Ok((run.outputs, run.stats))
}

#[test]
fn a_finished_directory_resumes_with_nothing_left_to_do() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ckpt");
    let (out, first) = run_in(&dir, "cubes", 40, 3).unwrap();
    assert_eq!(out, expected(40));
    assert!(first.checkpoints_written >= 1);
    assert_eq!(first.resumed_from, None);
    let (out, second) = run_in(&dir, "cubes", 40, 3).unwrap();
    assert_eq!(out, expected(40));
    assert_eq!(second.restored, 40);
    assert_eq!(second.subtask_runs, 0, "nothing is recomputed");
    assert!(second.resumed_from.is_some());
}

#[test]
fn segments_newer_than_the_progress_file_are_dropped_and_redone() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ckpt");
    run_in(&dir, "cubes", 30, 2).unwrap();
    // Forge a segment for a snapshot whose progress checkpoint never landed: a crash
    // between the two writes. It must be ignored and deleted, not trusted.
    let stale = dir.join("outputs").join(format!("seg-{:020}.bin", 999_999));
    fs::write(&stale, b"SNAPSEG1 garbage that would not even decode").unwrap();
    let (out, stats) = run_in(&dir, "cubes", 30, 2).unwrap();
    assert_eq!(out, expected(30));
    assert_eq!(stats.restored, 30);
    assert!(!stale.exists());
}

fn checkpoint_error(result: Result<(Vec<u64>, RunStats), CoordinatorError>) -> CheckpointDirError {
    match result {
        Err(CoordinatorError::Checkpoint(e)) => e,
        Err(other) => panic!("expected a checkpoint error, got {other}"),
        Ok(_) => panic!("expected a checkpoint error, the run succeeded"),
    }
}

#[test]
fn a_foreign_directory_is_refused_and_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("holiday.jpg"), b"not ours").unwrap();
    let e = checkpoint_error(run_in(tmp.path(), "cubes", 10, 2));
    assert!(matches!(e, CheckpointDirError::Foreign { .. }), "{e}");
    assert!(!e.to_string().contains('\n'));
    assert_eq!(
        fs::read_dir(tmp.path()).unwrap().count(),
        1,
        "nothing written into it"
    );
}

#[test]
fn another_jobs_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    run_in(tmp.path(), "cubes", 10, 2).unwrap();
    let e = checkpoint_error(run_in(tmp.path(), "squares", 10, 2));
    assert!(matches!(e, CheckpointDirError::DifferentJob { .. }), "{e}");
    let e = checkpoint_error(run_in(tmp.path(), "cubes", 10, 3));
    assert!(e.to_string().contains("workers: 3 here, 2 there"), "{e}");
}

/// Damages a finished checkpoint directory.
type Damage = fn(&Path);

#[test]
fn corrupt_files_are_refused() {
    let cases: [(&str, Damage); 4] = [
        ("manifest", |d| {
            fs::write(d.join("snapstate-job.json"), b"{not json").unwrap()
        }),
        ("progress", |d| {
            let p = d.join("progress.ckpt");
            let mut bytes = fs::read(&p).unwrap();
            let mid = bytes.len() / 2;
            bytes[mid] ^= 0x40;
            fs::write(p, bytes).unwrap();
        }),
        ("truncated progress", |d| {
            let p = d.join("progress.ckpt");
            let bytes = fs::read(&p).unwrap();
            fs::write(&p, &bytes[..bytes.len() - 3]).unwrap();
        }),
        ("segment", |d| {
            let seg = fs::read_dir(d.join("outputs"))
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .path();
            let mut bytes = fs::read(&seg).unwrap();
            let last = bytes.len() - 1;
            bytes[last] ^= 1;
            fs::write(seg, bytes).unwrap();
        }),
    ];
    for (what, damage) in cases {
        let tmp = tempfile::tempdir().unwrap();
        run_in(tmp.path(), "cubes", 20, 2).unwrap();
        damage(tmp.path());
        let e = checkpoint_error(run_in(tmp.path(), "cubes", 20, 2));
        match &e {
            CheckpointDirError::Corrupt { path, .. } => {
                let file = if what.contains("progress") {
                    "progress.ckpt"
                } else if what == "manifest" {
                    "snapstate-job.json"
                } else {
                    ".bin"
                };
                assert!(path.to_string_lossy().ends_with(file), "{what}: {e}");
            }
            other => panic!("{what}: expected Corrupt, got {other:?}"),
        }
        assert!(!e.to_string().contains('\n'), "{what}: one line");
    }
}

#[test]
fn a_missing_segment_is_refused_rather_than_silently_recomputed() {
    let tmp = tempfile::tempdir().unwrap();
    run_in(tmp.path(), "cubes", 20, 2).unwrap();
    for seg in fs::read_dir(tmp.path().join("outputs")).unwrap() {
        fs::remove_file(seg.unwrap().path()).unwrap();
    }
    let e = checkpoint_error(run_in(tmp.path(), "cubes", 20, 2));
    assert!(e.to_string().contains("missing"), "{e}");
}

/// Subtask `k` reads `inputs[k]` and outputs ten times it.
struct Reads {
    inputs: Arc<Mutex<Vec<u64>>>,
}

impl Job for Reads {
    type Output = u64;
    fn identity(&self) -> JobIdentity {
        JobIdentity::new("reads")
    }
    fn subtasks(&self) -> usize {
        self.inputs.lock().unwrap().len()
    }
    fn fingerprint(&self, k: usize) -> Result<Fingerprint, JobError> {
        Ok(Fingerprint::of(
            &self.inputs.lock().unwrap()[k].to_le_bytes(),
        ))
    }
    fn run(&self, k: usize, _: &TaskContext) -> Result<u64, JobError> {
        Ok(self.inputs.lock().unwrap()[k] * 10)
    }
}

#[test]
fn a_changed_input_redoes_its_subtask_and_what_follows_it_on_its_node() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = Arc::new(Mutex::new((0..20).collect::<Vec<u64>>()));
    let run = |inputs: &Arc<Mutex<Vec<u64>>>| {
        let config = CoordinatorConfig::new(2)
            .unwrap()
            .snapshot_interval(Duration::from_millis(1))
            .checkpoint_dir(tmp.path());
        let job = Reads {
            inputs: Arc::clone(inputs),
        };
        Coordinator::new(job, config)
            .run(Arc::new(NoopObserver))
            .unwrap()
    };
    run(&inputs);
    // Subtask 12 is position 6 of node 0's queue (0, 2, ..., 18): positions 6..10 of
    // node 0 run again, node 1 is kept whole.
    inputs.lock().unwrap()[12] = 1000;
    let second = run(&inputs);
    let want: Vec<u64> = inputs.lock().unwrap().iter().map(|v| v * 10).collect();
    assert_eq!(second.outputs, want, "the changed input's output is redone");
    assert_eq!(second.stats.inputs_changed, 1);
    assert_eq!(second.stats.discarded_on_resume, 4);
    assert_eq!(second.stats.restored, 16);
    assert_eq!(second.stats.subtask_runs, 4);
    // The rollback itself is durable: a third run resumes without redoing anything.
    let third = run(&inputs);
    assert_eq!(third.outputs, want);
    assert_eq!((third.stats.restored, third.stats.subtask_runs), (20, 0));
}

#[test]
fn files_copied_from_another_jobs_directory_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    run_in(&a, "first", 20, 2).unwrap();
    run_in(&b, "second", 20, 2).unwrap();
    fs::copy(a.join("progress.ckpt"), b.join("progress.ckpt")).unwrap();
    for seg in fs::read_dir(a.join("outputs")).unwrap() {
        let seg = seg.unwrap();
        fs::copy(seg.path(), b.join("outputs").join(seg.file_name())).unwrap();
    }
    let e = checkpoint_error(run_in(&b, "second", 20, 2));
    assert!(matches!(e, CheckpointDirError::ForeignFile { .. }), "{e}");
    assert!(e.to_string().contains("another job"), "{e}");
}

#[test]
fn a_locked_directory_is_refused_at_once_naming_its_holder() {
    let tmp = tempfile::tempdir().unwrap();
    let held = CheckpointDir::open(tmp.path()).unwrap();
    let e = checkpoint_error(run_in(tmp.path(), "cubes", 10, 2));
    assert!(matches!(e, CheckpointDirError::Locked { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.contains(&format!("pid {}", std::process::id())),
        "{text}"
    );
    drop(held);
    run_in(tmp.path(), "cubes", 10, 2).unwrap();
}

#[test]
fn a_file_is_not_a_checkpoint_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("notes.txt");
    fs::write(&file, "mine").unwrap();
    let e = checkpoint_error(run_in(&file, "cubes", 10, 2));
    assert!(matches!(e, CheckpointDirError::NotADirectory { .. }), "{e}");
    assert_eq!(fs::read_to_string(&file).unwrap(), "mine");
}
