#!/usr/bin/env bash
# The benchmarks must never rot: every criterion bench runs once in its test mode, and
# the results script runs the scaling harness, the goals and the memory benchmark in
# --quick mode (seconds each, goal 7 scaled down to 200,000 nodes) into target/, so the
# script that regenerates benches/results/RESULTS.md is exercised too. Nothing here
# asserts a speed; a panic or a wrong answer inside a bench fails the step.
set -euo pipefail
cargo bench -p snapstate-benches --benches -- --test
bash benches/results/regenerate.sh --quick target/results-quick
