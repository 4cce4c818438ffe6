//! `--input` as a user meets it, end to end on real files in a temp dir: the run's own
//! directories are never indexed (issue 11, item 4); an unreadable file, a file deleted
//! mid-run and a symlink loop are skipped with a warning, or refused with `--strict`
//! (item 8); the walk filters as ripgrep does, follows links once, reads Latin-1, finds
//! binary files without NUL bytes and keeps non-UTF-8 names (item 9); the checksum does
//! not depend on where the input directory is (item 15).

#![cfg(unix)]

use std::ffi::OsStr;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_snapstate"))
}

fn run(args: &[&str], cwd: &Path) -> Output {
    bin().args(args).current_dir(cwd).output().expect("start")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "bad JSON ({e}): {} / {}",
            String::from_utf8_lossy(&o.stdout),
            stderr(o)
        )
    })
}

/// Files left out for `reason`, from a JSON summary.
fn skipped(summary: &serde_json::Value, reason: &str) -> u64 {
    summary["skipped"][reason].as_u64().unwrap_or(0)
}

fn docs(summary: &serde_json::Value) -> u64 {
    summary["index"]["stats"]["docs"].as_u64().expect("docs")
}

fn write(path: impl AsRef<Path>, bytes: impl AsRef<[u8]>) {
    let path = path.as_ref();
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

/// `n` text files of distinct words under `dir`, of equal size.
fn make_docs(dir: &Path, n: usize) {
    for i in 0..n {
        let text = format!("file{i:02} common words number{i:02} end\n").repeat(40);
        write(dir.join(format!("f{i:02}.txt")), text);
    }
}

fn wait_for(cond: impl Fn() -> bool, what: &str) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{what} never happened"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn kill(mut child: Child) {
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

/// Item 4: a checkpoint and an output directory inside the input are never indexed,
/// so a killed run resumes (before, the job indexed its own checkpoint files, and the
/// listing it resumed with differed from the one it started with).
#[test]
fn checkpoint_and_output_dirs_inside_the_input_are_left_out_and_resume_works() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    make_docs(&dir.join("docs"), 24);
    let clean = run(
        &["--input", "docs", "--out", "elsewhere", "--json", "--quiet"],
        dir,
    );
    assert!(clean.status.success(), "{}", stderr(&clean));
    let clean = json(&clean);
    assert_eq!(docs(&clean), 24);

    let args = [
        "--input",
        "docs",
        "--checkpoint-dir",
        "docs/ckpt",
        "--out",
        "docs/out",
        "--shards",
        "8",
        "--workers",
        "1",
        "--snapshot-every",
        "5",
    ];
    let child = bin()
        .args(args)
        .args(["--slow", "150", "--quiet"])
        .current_dir(dir)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let outputs = dir.join("docs/ckpt/outputs");
    wait_for(
        || fs::read_dir(&outputs).is_ok_and(|d| d.count() >= 2),
        "two committed shards",
    );
    kill(child);
    let resumed = run(&[&args[..], &["--json", "--quiet"]].concat(), dir);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    let resumed = json(&resumed);
    assert!(
        resumed["run"]["restored"].as_u64().unwrap() >= 1,
        "it resumed: {resumed}"
    );
    assert_eq!(docs(&resumed), 24, "only the documents: {resumed}");
    assert_eq!(skipped(&resumed, "excluded"), 1, "the checkpoint directory");
    assert_eq!(resumed["index"]["checksum"], clean["index"]["checksum"]);
    // Once more, now that the output directory exists inside the input too.
    let again = run(&[&args[..], &["--json", "--quiet"]].concat(), dir);
    assert!(again.status.success(), "{}", stderr(&again));
    let again = json(&again);
    assert_eq!(skipped(&again, "excluded"), 2);
    assert_eq!(again["index"]["checksum"], clean["index"]["checksum"]);
}

/// Runs snapstate as an unprivileged user when this test runs as root (root reads
/// any file, whatever its mode), or `None` if that is not possible here.
fn as_unprivileged() -> Option<Command> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some(bin());
    }
    let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .find(|p| Path::new(p).exists())?;
    let mut cmd = Command::new(setpriv);
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_snapstate"));
    Some(cmd)
}

/// Item 8: one unreadable file is skipped with a warning and counted; `--strict`
/// refuses it. (Before, it aborted the whole job.)
#[test]
fn an_unreadable_file_is_skipped_with_a_warning_or_refused_with_strict() {
    let Some(_) = as_unprivileged() else {
        eprintln!("skipped: running as root without setpriv, no file is unreadable");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    make_docs(&dir.join("docs"), 5);
    write(dir.join("docs/secret.txt"), "secret words");
    fs::set_permissions(
        dir.join("docs/secret.txt"),
        fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    for d in [dir, &dir.join("docs")] {
        fs::set_permissions(d, fs::Permissions::from_mode(0o777)).unwrap();
    }
    let o = as_unprivileged()
        .unwrap()
        .args(["--input", "docs", "--out", "out", "--json"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("warning: skipped secret.txt: unreadable"),
        "a warning names it: {err}"
    );
    assert!(err.contains("--strict"), "{err}");
    let summary = json(&o);
    assert_eq!(skipped(&summary, "unreadable"), 1);
    assert_eq!(docs(&summary), 5);

    let o = as_unprivileged()
        .unwrap()
        .args(["--input", "docs", "--out", "strict", "--strict"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(!o.status.success(), "--strict fails");
    let err = stderr(&o);
    assert!(
        err.contains("secret.txt") && err.contains("--strict"),
        "{err}"
    );
    assert!(!dir.join("strict/index.snapidx").exists());
}

/// Runs a slow job over `docs/` and deletes `victim` once the walk has listed it;
/// returns the finished process's output.
fn delete_mid_run(dir: &Path, victim: &str, extra: &[&str]) -> Output {
    let mut child = bin()
        .args([
            "--input",
            "docs",
            "--shards",
            "8",
            "--workers",
            "1",
            "--slow",
            "300",
        ])
        .args(["--json", "--progress", "plain"])
        .args(extra)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    // The walk is done when the run announces what it indexes.
    loop {
        let mut line = String::new();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "no start line: {seen}"
        );
        seen.push_str(&line);
        if line.starts_with("snapstate: indexing") {
            break;
        }
    }
    fs::remove_file(dir.join("docs").join(victim)).unwrap();
    err.read_to_string(&mut seen).unwrap();
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    let status = child.wait().unwrap();
    Output {
        status,
        stdout,
        stderr: seen.into_bytes(),
    }
}

/// Item 8: a file deleted after the walk listed it and before it is read is skipped
/// with a warning; `--strict` stops the job instead.
#[test]
fn a_file_deleted_mid_run_is_skipped_or_refused_with_strict() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    make_docs(&dir.join("docs"), 8);
    // f07.txt is alone in the last of 8 shards: read some 2 s after the walk.
    let o = delete_mid_run(dir, "f07.txt", &["--out", "out"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warning: skipped f07.txt: vanished"),
        "{}",
        stderr(&o)
    );
    let summary = json(&o);
    assert_eq!(skipped(&summary, "vanished"), 1, "{summary}");
    assert_eq!(docs(&summary), 7);

    make_docs(&dir.join("docs"), 8);
    let o = delete_mid_run(dir, "f07.txt", &["--out", "strict", "--strict"]);
    assert!(!o.status.success(), "--strict fails");
    assert!(stderr(&o).contains("f07.txt"), "{}", stderr(&o));
    assert!(!dir.join("strict/index.snapidx").exists());
}

/// Item 8: a symbolic link loop (to itself, or to a directory above it) is skipped
/// with a warning and counted; `--strict` refuses it before any work.
#[test]
fn a_symlink_loop_is_skipped_or_refused_with_strict() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    make_docs(&dir.join("docs"), 3);
    fs::create_dir(dir.join("docs/loop")).unwrap();
    symlink("self", dir.join("docs/loop/self")).unwrap();
    symlink("..", dir.join("docs/loop/up")).unwrap();
    let o = run(&["--input", "docs", "--json"], dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("skipped loop/self: symlink_loop"), "{err}");
    assert!(err.contains("skipped loop/up/: symlink_loop"), "{err}");
    let summary = json(&o);
    assert_eq!(skipped(&summary, "symlink_loop"), 2);
    assert_eq!(docs(&summary), 3);

    let o = run(&["--input", "docs", "--out", "strict", "--strict"], dir);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("loop/self") && err.contains("--strict"),
        "{err}"
    );
}

/// A tree with one of everything item 9 names.
fn awkward_tree(docs: &Path) {
    write(docs.join("a.txt"), "Alpha common");
    write(docs.join("latin1.txt"), b"Gr\xF6\xDFe common");
    write(docs.join("sub/c.md"), "gamma common");
    write(docs.join(".hidden.txt"), "hiddenword");
    write(docs.join(".git/HEAD"), "ref: refs/heads/main");
    write(docs.join(".gitignore"), "*.log\nbuild/\n");
    write(docs.join("x.log"), "logword");
    write(docs.join("build/out.txt"), "buildword");
    write(docs.join("bin.dat"), b"binword\0\x01\x02");
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let noise: Vec<u8> = (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 255) as u8 + 1 // no NUL byte anywhere
        })
        .collect();
    write(docs.join("noise.bin"), noise);
    symlink("a.txt", docs.join("link.txt")).unwrap();
    fs::write(
        docs.join(OsStr::from_bytes(b"caf\xE9.txt")),
        "cafeword common",
    )
    .unwrap();
}

fn query(dir: &Path, index: &str, term: &str) -> serde_json::Value {
    let o = run(&["query", term, "--index", index, "--json"], dir);
    assert!(o.status.success(), "{}", stderr(&o));
    json(&o)
}

fn hit_names(answer: &serde_json::Value) -> Vec<String> {
    answer["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Item 9: ripgrep's filters (hidden, .gitignore, binary), links indexed once, Latin-1
/// read as Latin-1, a random file with no NUL byte found to be binary, a non-UTF-8
/// name kept, every file left out counted by reason and named with `--verbose`.
#[test]
fn the_walk_filters_like_ripgrep_and_reads_what_it_keeps_sensibly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    awkward_tree(&dir.join("docs"));
    let o = run(
        &["--input", "docs", "--out", "idx", "--json", "--verbose"],
        dir,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let summary = json(&o);
    assert_eq!(
        docs(&summary),
        4,
        "a.txt, caf\\xE9.txt, latin1.txt, sub/c.md: {summary}"
    );
    for (reason, n) in [
        ("hidden", 3),
        ("ignored", 2),
        ("binary", 2),
        ("duplicate", 1),
    ] {
        assert_eq!(skipped(&summary, reason), n, "{reason}: {summary}");
    }
    let err = stderr(&o);
    for line in [
        "skipped .hidden.txt: hidden",
        "skipped .git/: hidden",
        "skipped build/: ignored",
        "skipped x.log: ignored",
        "skipped noise.bin: binary",
        "skipped link.txt: duplicate (same file as a.txt)",
    ] {
        assert!(err.contains(line), "--verbose names {line:?}: {err}");
    }
    let files = summary["skipped_files"].as_array().expect("skipped_files");
    assert_eq!(files.len(), 8);

    assert_eq!(hit_names(&query(dir, "idx", "größe")), ["latin1.txt"]);
    assert_eq!(hit_names(&query(dir, "idx", "cafeword")), ["caf\\xE9.txt"]);
    assert_eq!(
        query(dir, "idx", "common")["total_hits"],
        4,
        "a.txt once, not twice"
    );
    for absent in ["hiddenword", "logword", "buildword", "binword"] {
        assert_eq!(query(dir, "idx", absent)["total_hits"], 0, "{absent}");
    }

    // --glob keeps only what matches; '!' leaves out.
    let o = run(
        &["--input", "docs", "--out", "md", "--json", "--glob", "*.md"],
        dir,
    );
    let summary = json(&o);
    assert_eq!(docs(&summary), 1);
    assert!(skipped(&summary, "glob") >= 4, "{summary}");
    let o = run(
        &["--input", "docs", "--out", "nosub", "--json", "-g", "!sub/"],
        dir,
    );
    assert_eq!(docs(&json(&o)), 3);
    // --hidden and --no-ignore put them back.
    let o = run(
        &[
            "--input",
            "docs",
            "--out",
            "all",
            "--json",
            "--hidden",
            "--no-ignore",
        ],
        dir,
    );
    let summary = json(&o);
    assert_eq!(
        skipped(&summary, "hidden") + skipped(&summary, "ignored"),
        0
    );
    assert_eq!(query(dir, "all", "hiddenword")["total_hits"], 1);
    assert_eq!(query(dir, "all", "logword")["total_hits"], 1);
    // A bad glob is one clear error.
    let o = run(&["--input", "docs", "--glob", "a[", "--out", "bad"], dir);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--glob"), "{}", stderr(&o));
}

/// Item 15: the same files in two places give the same checksum.
#[test]
fn the_checksum_does_not_depend_on_where_the_input_is() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    make_docs(&dir.join("one/docs"), 6);
    make_docs(&dir.join("two/deeper/elsewhere"), 6);
    let a = json(&run(
        &["--input", "one/docs", "--out", "a", "--json", "--quiet"],
        dir,
    ));
    let b = json(&run(
        &[
            "--input",
            "two/deeper/elsewhere",
            "--out",
            "b",
            "--json",
            "--quiet",
        ],
        dir,
    ));
    assert_eq!(a["index"]["checksum"], b["index"]["checksum"]);
    assert_eq!(
        fs::read(dir.join("a/index.snapidx")).unwrap(),
        fs::read(dir.join("b/index.snapidx")).unwrap()
    );
}
