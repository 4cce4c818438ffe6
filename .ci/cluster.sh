#!/usr/bin/env bash
# The distributed mode (docs/distributed.md) against real etcd processes: installs what
# it needs (etcd, protoc, nftables), lints the feature-gated code, runs every test of it.
# Must run as root on a fresh Debian machine (apt-get; the partition tests make network
# namespaces). Each scenario starts its own etcd on free loopback ports (never 2379).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for tool in etcd etcdctl protoc nft ip; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing etcd-server etcd-client protobuf-compiler nftables iproute2 (missing: ${need[*]})"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    etcd-server etcd-client protobuf-compiler nftables iproute2 >/dev/null
fi

# Runs a test command; prints its FIGURE and result lines, or all of it if it fails.
run_tests() {
  local log
  log=$(mktemp)
  if ! "$@" >"$log" 2>&1; then
    cat "$log"
    rm -f "$log"
    echo "failed: $*" >&2
    exit 1
  fi
  grep -E "^FIGURE|^test |test result" "$log" || true
  rm -f "$log"
}

# Fuzz the decoding of every message and etcd/store value (cargo fuzz, nightly, about
# FUZZ_SECONDS per target, no sanitizer: the code is safe Rust, and this way it runs
# more inputs); skipped loudly if nightly or cargo-fuzz cannot be had. It runs niced in
# the background while the process tests (which mostly wait) run.
fuzz_cluster() {
  local secs="${FUZZ_SECONDS:-10}"
  if ! rustup toolchain list | grep -q nightly; then
    echo "!!! CLUSTER FUZZ SKIPPED: no nightly toolchain"; return 0
  fi
  if ! command -v cargo-fuzz >/dev/null 2>&1 && ! cargo install cargo-fuzz --locked >/dev/null 2>&1; then
    echo "!!! CLUSTER FUZZ SKIPPED: could not install cargo-fuzz"; return 0
  fi
  cd crates/cluster
  local log start
  log=$(mktemp)
  start=$SECONDS
  if ! cargo +nightly fuzz build -s none >"$log" 2>&1; then
    tail -40 "$log"; echo "building the fuzz targets failed" >&2; return 1
  fi
  echo "fuzz targets built in $((SECONDS - start)) s"
  for target in worker_message leader_message etcd_and_store; do
    if ! cargo +nightly fuzz run -s none "$target" -- -max_total_time="$secs" >"$log" 2>&1; then
      tail -40 "$log"; echo "fuzz target $target failed" >&2; return 1
    fi
    echo "FIGURE fuzz_$target $(grep -E '^Done [0-9]+ runs' "$log" | tail -1)"
  done
  rm -f "$log"
}

FEATURES="snapstate-cli/distributed-tests"
cargo clippy -p snapstate-cluster -p snapstate-cli --features "$FEATURES" --all-targets -- -D warnings

# Unit, control-layer (real etcd) and in-process tests, and the throughput figure.
run_tests cargo test --release -p snapstate-cluster --features harness
run_tests cargo test --release -p snapstate-cluster --features harness --test throughput -- --ignored --nocapture
# Build the process tests first, then fuzz in the background while they run.
cargo test --release -p snapstate-cli --features distributed-tests --no-run --tests -q 2>/dev/null \
  || cargo test --release -p snapstate-cli --features distributed-tests --no-run --tests
fuzz_log=$(mktemp)
setsid nice -n 10 bash -c "$(declare -f fuzz_cluster); fuzz_cluster" >"$fuzz_log" 2>&1 &
fuzz_pid=$!
# Its own process group: a failing test step below ends it (and its cargo) too.
trap 'kill -- -"$fuzz_pid" 2>/dev/null || true' EXIT
# Real processes: kills, failover, a 3-member etcd losing its raft leader, bad input.
run_tests cargo test --release -p snapstate-cli --features distributed-tests --test distributed -- --nocapture
# Security: mutual TLS (etcd too), intruders, a hostile worker, no plaintext off loopback.
run_tests cargo test --release -p snapstate-cli --features distributed-tests --test secure -- --nocapture
# Partitions (network namespaces): root only.
if [ "$(id -u)" = 0 ]; then
  run_tests cargo test --release -p snapstate-cli --features distributed-tests --test partition -- --ignored --nocapture
  if ip netns list | grep -q '^snapstate-'; then
    echo "a partition test left a network namespace behind:" >&2
    ip netns list >&2
    exit 1
  fi
else
  echo "!!! PARTITION TESTS SKIPPED: they need root (network namespaces)"
fi
if ! wait "$fuzz_pid"; then
  trap - EXIT
  cat "$fuzz_log"
  echo "fuzzing failed" >&2
  exit 1
fi
trap - EXIT
cat "$fuzz_log"
rm -f "$fuzz_log"
