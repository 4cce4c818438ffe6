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

FEATURES="snapstate-cli/distributed-tests"
cargo clippy -p snapstate-cluster -p snapstate-cli --features "$FEATURES" --all-targets -- -D warnings

# Unit, control-layer (real etcd) and in-process tests, and the throughput figure.
run_tests cargo test --release -p snapstate-cluster --features harness
run_tests cargo test --release -p snapstate-cluster --features harness --test throughput -- --ignored --nocapture
# Real processes: kills, failover, a 3-member etcd losing its raft leader, bad input.
run_tests cargo test --release -p snapstate-cli --features distributed-tests --test distributed -- --nocapture
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
