#!/usr/bin/env bash
# Loom models (README "Loom"): release builds in their own target dirs, crossbeam-epoch
# visible to loom, each model with its own preemption bound (set in the model; an exported
# LOOM_MAX_PREEMPTIONS overrides them all). Each model prints its bound, iteration count
# and time; a summary follows. Then the planted trap must be caught.
set -euo pipefail
unset LOOM_MAX_PREEMPTIONS LOOM_CHECKPOINT_FILE LOOM_LOG
mkdir -p target
log=target/loom-models.log
: >"$log"
export RUSTFLAGS="--cfg snapstate_loom --cfg crossbeam_loom"

echo "white-box models (crates/core/src/loom_tests.rs)"
CARGO_TARGET_DIR=target/loom cargo test -p snapstate --lib --release --features loom \
  -- --nocapture --test-threads=1 2>&1 | tee -a "$log"

echo "public-API models (loom-tests/tests/models.rs)"
CARGO_TARGET_DIR=target/loom cargo test -p snapstate-loom-tests --release --features loom \
  --test models -- --nocapture --test-threads=1 2>&1 | tee -a "$log"

echo "feature models: compaction, pins, advance (loom-tests/tests/feature_models.rs)"
CARGO_TARGET_DIR=target/loom cargo test -p snapstate-loom-tests --release --features loom \
  --test feature_models -- --nocapture --test-threads=1 2>&1 | tee -a "$log"

echo "::: loom models: bound, iterations, time"
grep -o 'loom model [^:]*: preemption bound .*' "$log" | sed 's/^/    /'

# The planted trap (--cfg snapstate_mutant: a write's epoch comes from a clock read taken
# before it is published, with no announcement) must be caught by the trap model.
echo "mutant check: the trap model must fail against --cfg snapstate_mutant"
mlog=target/loom-mutant.log
if RUSTFLAGS="$RUSTFLAGS --cfg snapstate_mutant" CARGO_TARGET_DIR=target/loom-mutant \
  cargo test -p snapstate-loom-tests --release --features loom --test models \
  -- --exact trap --nocapture >"$mlog" 2>&1; then
  echo "FAIL: loom did not catch the planted trap"; tail -20 "$mlog"; exit 1
fi
if ! grep -q "changed after snap() returned" "$mlog"; then
  echo "FAIL: the mutant run failed, but not on the trap:"; grep -m3 -A3 panicked "$mlog"; exit 1
fi
grep -m1 -B1 -A2 "changed after snap() returned" "$mlog"
grep -m1 "FAILED in iteration" "$mlog" || true
echo "mutant caught"
