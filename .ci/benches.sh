#!/usr/bin/env bash
# The benchmarks must never rot: every criterion bench runs once in its test mode, the
# scaling harness, the goals and the memory benchmark run in --quick mode. Nothing here
# asserts a speed; a panic or a wrong answer inside a bench fails the step.
set -euo pipefail
cargo bench -p snapstate-benches --benches -- --test
cargo run -p snapstate-benches --release --bin scaling -- --quick --out target/scaling-quick
cargo run -p snapstate-benches --release --bin goals -- --quick
cargo run -p snapstate-benches --release --bin memory -- --quick
