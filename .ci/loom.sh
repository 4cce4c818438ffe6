#!/usr/bin/env bash
# Loom models, bounded, in release, in their own target dir (see README "Loom").
set -euo pipefail
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-2}"
RUSTFLAGS="--cfg loom --cfg crossbeam_loom" CARGO_TARGET_DIR=target/loom \
  cargo test -p snapstate --release --features loom --test loom_smoke --test loom_features

# The planted trap must be caught: the same model against the mutant build has to fail.
echo "mutant check: the trap model must fail against --cfg snapstate_mutant"
if RUSTFLAGS="--cfg loom --cfg crossbeam_loom --cfg snapstate_mutant" CARGO_TARGET_DIR=target/loom-mutant \
  cargo test -p snapstate --release --features loom --test loom_smoke trap_a_returned_snapshot_never_changes \
  >target/loom-mutant.log 2>&1; then
  echo "FAIL: loom did not catch the planted trap"; tail -20 target/loom-mutant.log; exit 1
fi
grep -m1 "changed after snap() returned" target/loom-mutant.log
echo "mutant caught"
