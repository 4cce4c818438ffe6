#!/usr/bin/env bash
# A short libFuzzer run of the checkpoint decoder (cargo fuzz, nightly).
# Skipped loudly if the nightly toolchain or cargo-fuzz cannot be had on this machine.
set -euo pipefail
SECS="${FUZZ_SECONDS:-30}"
if ! rustup toolchain list | grep -q nightly; then
  echo "!!! FUZZ SKIPPED: no nightly toolchain"; exit 0
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  if ! cargo install cargo-fuzz --locked; then
    echo "!!! FUZZ SKIPPED: could not install cargo-fuzz"; exit 0
  fi
fi
cd crates/core
cargo +nightly fuzz run checkpoint_decode -- -max_total_time="$SECS" 2>&1 | tail -3
