#!/usr/bin/env bash
# ThreadSanitizer over the multi-threaded tests (README "ThreadSanitizer"): the core's
# stress tests and the real-thread linearizability test, with std rebuilt under TSan.
# A step of .ci/run (about 2 minutes, most of it rebuilding std once); by hand:
#   bash .ci/tsan.sh
# TSan does not model atomic fences. crossbeam-epoch turns its own fences into
# acquire loads under TSan by itself; any report on the core's fences would go in
# .ci/tsan.supp with the reason (the file says which entries exist and why).
set -euo pipefail
if ! rustup toolchain list | grep -q nightly; then
  echo "!!! TSAN SKIPPED: no nightly toolchain on this machine"; exit 0
fi
if ! rustup component add --toolchain nightly rust-src; then
  echo "!!! TSAN SKIPPED: could not download the rust-src component"; exit 0
fi
export RUSTFLAGS="-Zsanitizer=thread"
export RUSTDOCFLAGS="-Zsanitizer=thread"
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(pwd)/.ci/tsan.supp"
CARGO_TARGET_DIR=target/tsan cargo +nightly test -Zbuild-std \
  --target x86_64-unknown-linux-gnu \
  -p snapstate --test stress --test compaction \
  -- --nocapture
CARGO_TARGET_DIR=target/tsan cargo +nightly test -Zbuild-std \
  --target x86_64-unknown-linux-gnu \
  -p snapstate-loom-tests --test linearizability \
  -- --nocapture
