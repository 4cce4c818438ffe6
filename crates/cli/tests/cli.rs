//! The `snapstate` program as a user meets it: help, bad input, a run, a query.

use std::path::Path;
use std::process::{Command, Output};

fn snapstate(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_snapstate"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("start snapstate")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A one-line error, a non-zero exit, no panic.
fn assert_clean_error(o: &Output, mentions: &str) {
    let err = stderr(o);
    assert!(!o.status.success(), "should fail: {err}");
    assert_eq!(err.lines().count(), 1, "one line, got: {err}");
    assert!(err.starts_with("snapstate: error: "), "{err}");
    assert!(err.contains(mentions), "should mention {mentions:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

const SMALL: &[&str] = &["--docs", "300", "--shards", "12", "--workers", "2"];
const SMALL_ONE_WORKER: &[&str] = &["--docs", "300", "--shards", "12", "--workers", "1"];

#[test]
fn help_explains_every_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let o = snapstate(&["--help"], tmp.path());
    assert!(o.status.success());
    let help = stdout(&o);
    for flag in [
        "--input",
        "--docs",
        "--corpus-seed",
        "--shards",
        "--workers",
        "--out",
        "--checkpoint-dir",
        "--failure-rate",
        "--fault-seed",
        "--snapshot-every",
        "--stall-timeout",
        "--max-failures",
        "--max-injected",
        "--progress",
        "--slow",
        "--quiet",
        "--json",
        "query",
    ] {
        assert!(help.contains(flag), "--help does not mention {flag}");
    }
    let o = snapstate(&["query", "--help"], tmp.path());
    assert!(stdout(&o).contains("--index"));
}

#[test]
fn bad_input_is_one_line_and_a_non_zero_exit() {
    let tmp = tempfile::tempdir().unwrap();
    let o = snapstate(&["--wrokers", "2"], tmp.path());
    assert_clean_error(&o, "--wrokers");
    assert_eq!(o.status.code(), Some(2));
    assert_clean_error(&snapstate(&["--workers", "0"], tmp.path()), "--workers");
    assert_clean_error(
        &snapstate(&["--failure-rate", "1.5"], tmp.path()),
        "--failure-rate",
    );
    assert_clean_error(
        &snapstate(&["--input", "no/such/dir"], tmp.path()),
        "does not exist",
    );
    std::fs::write(tmp.path().join("file.txt"), "x").unwrap();
    assert_clean_error(
        &snapstate(&["--input", "file.txt"], tmp.path()),
        "not a directory",
    );
    std::fs::create_dir(tmp.path().join("empty")).unwrap();
    assert_clean_error(
        &snapstate(&["--input", "empty"], tmp.path()),
        "no text files",
    );
    assert_clean_error(
        &snapstate(&["query", "x", "--index", "nowhere"], tmp.path()),
        "no index",
    );
    // Nothing was presented as an index by any of these.
    assert!(!tmp.path().join("snapstate-index").exists());
}

#[test]
fn a_corrupt_or_foreign_checkpoint_dir_is_refused_without_an_index() {
    let tmp = tempfile::tempdir().unwrap();
    let foreign = tmp.path().join("photos");
    std::fs::create_dir(&foreign).unwrap();
    std::fs::write(foreign.join("cat.jpg"), "meow").unwrap();
    let mut args = SMALL.to_vec();
    args.extend(["--checkpoint-dir", "photos", "--quiet"]);
    assert_clean_error(
        &snapstate(&args, tmp.path()),
        "not a snapstate checkpoint directory",
    );

    let mut args = SMALL.to_vec();
    args.extend(["--checkpoint-dir", "ckpt", "--quiet", "--out", "idx"]);
    assert!(snapstate(&args, tmp.path()).status.success());
    std::fs::remove_dir_all(tmp.path().join("idx")).unwrap();
    std::fs::write(tmp.path().join("ckpt/progress.ckpt"), b"garbage").unwrap();
    assert_clean_error(&snapstate(&args, tmp.path()), "corrupt checkpoint");
    assert!(!tmp.path().join("idx/index.snapidx").exists());
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("bad JSON ({e}): {}", stdout(o)))
}

#[test]
fn a_run_with_failures_matches_a_clean_run_and_answers_queries() {
    let tmp = tempfile::tempdir().unwrap();
    let mut clean = SMALL_ONE_WORKER.to_vec();
    clean.extend(["--failure-rate", "0", "--json", "--quiet", "--out", "clean"]);
    let o = snapstate(&clean, tmp.path());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stderr(&o), "", "--quiet prints no progress");
    let clean = json(&o);

    let mut faulty = SMALL.to_vec();
    faulty.extend([
        "--failure-rate",
        "0.3",
        "--fault-seed",
        "4",
        "--snapshot-every",
        "2",
        "--stall-timeout",
        "100",
        "--json",
        "--out",
        "faulty",
    ]);
    let o = snapstate(&faulty, tmp.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let faulty = json(&o);
    assert_eq!(faulty["index"]["checksum"], clean["index"]["checksum"]);
    assert!(faulty["run"]["failures"].as_u64().unwrap() > 0);
    assert_eq!(
        std::fs::read(tmp.path().join("clean/index.snapidx")).unwrap(),
        std::fs::read(tmp.path().join("faulty/index.snapidx")).unwrap()
    );
    // Not quiet: the human summary went to stderr, with failures shown as they happened.
    let err = stderr(&o);
    assert!(err.contains("checksum"), "{err}");
    assert!(err.contains("replaced"), "{err}");

    // Find a term in the clean index by asking for the most common one in the summary.
    let o = snapstate(
        &[
            "--docs",
            "300",
            "--shards",
            "12",
            "--out",
            "clean",
            "--failure-rate",
            "0",
        ],
        tmp.path(),
    );
    let summary = stdout(&o);
    let term = summary
        .lines()
        .find_map(|l| l.strip_prefix("Try a query: "))
        .and_then(|l| l.split_whitespace().skip_while(|w| *w != "query").nth(1))
        .unwrap_or_else(|| panic!("no query hint in: {summary}"))
        .to_owned();
    let o = snapstate(&["query", &term, "--index", "clean", "--json"], tmp.path());
    assert!(o.status.success(), "{}", stderr(&o));
    let answer = json(&o);
    assert_eq!(answer["terms"][0], term.as_str());
    let df = answer["doc_freqs"][0].as_u64().unwrap();
    assert!(df > 0 && df <= 300);
    assert_eq!(
        answer["hits"].as_array().unwrap().len(),
        (df as usize).min(10)
    );
    assert_eq!(answer["index_checksum"], clean["index"]["checksum"]);
    let o = snapstate(&["query", "zzzznotaword", "--index", "clean"], tmp.path());
    assert!(o.status.success());
    assert!(stdout(&o).contains("no document"));
}

#[test]
fn a_directory_of_text_files_is_indexed() {
    let tmp = tempfile::tempdir().unwrap();
    let docs = tmp.path().join("docs");
    std::fs::create_dir_all(docs.join("sub")).unwrap();
    std::fs::write(docs.join("a.txt"), "The quick brown fox.").unwrap();
    std::fs::write(docs.join("b.txt"), "A lazy dog; the end.").unwrap();
    std::fs::write(docs.join("sub/c.md"), "Fox and dog, fox again!").unwrap();
    let o = snapstate(
        &[
            "--input",
            "docs",
            "--quiet",
            "--json",
            "--failure-rate",
            "0",
        ],
        tmp.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(json(&o)["index"]["stats"]["docs"], 3);
    let o = snapstate(&["query", "FOX", "dog"], tmp.path());
    let out = stdout(&o);
    assert!(out.contains("sub/c.md"), "{out}");
    assert!(!out.contains("a.txt"), "a.txt has no dog: {out}");
}
