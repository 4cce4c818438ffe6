#!/usr/bin/env bash
# Single-thread instructions per operation, counted by callgrind (exactly repeatable).
# Only the function `measured` is counted (--toggle-collect), divided by N. The loop's
# own few instructions are included (the same for every implementation); for `fetch`,
# the random-number loop's count (`loop`) is subtracted. `fetch` reads 1024 nodes x 1000
# versions, `fetch-short` 1024 nodes x 64 (the harness's prefill, where read-heavy reads).
#   bash benches/callgrind.sh [IMPL...]      (default: snapstate pl-mutex classic-nolock)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q -p snapstate-benches --release --bin opcount
BIN=${CARGO_TARGET_DIR:-target}/release/opcount
N=${N:-100000}
impls=("$@")
[ ${#impls[@]} -eq 0 ] && impls=(snapstate pl-mutex classic-nolock)

ir() { # impl op n -> total instructions
  local out
  out=$(mktemp)
  valgrind --tool=callgrind --toggle-collect='*measured*' --callgrind-out-file="$out" \
    "$BIN" "$1" "$2" "$3" >/dev/null 2>&1
  awk '/^summary:/ {print $2}' "$out"
  rm -f "$out"
}
per_op() { # impl op -> instructions per op, 1 decimal
  awk -v a="$(ir "$1" "$2" "$N")" -v n="$N" 'BEGIN { printf "%.1f", a / n }'
}

echo "| implementation | set-append | set-overwrite | snap | fetch | fetch-short |"
echo "|---|---|---|---|---|---|"
for imp in "${impls[@]}"; do
  sa=$(per_op "$imp" set-append)
  so=$(per_op "$imp" set-overwrite)
  sn=$(per_op "$imp" snap)
  fe=$(per_op "$imp" fetch)
  lo=$(per_op "$imp" loop)
  fetch=$(awk -v f="$fe" -v l="$lo" 'BEGIN { printf "%.1f", f - l }')
  fs=$(per_op "$imp" fetch-short)
  ls=$(per_op "$imp" loop-short)
  short=$(awk -v f="$fs" -v l="$ls" 'BEGIN { printf "%.1f", f - l }')
  echo "| $imp | $sa | $so | $sn | $fetch | $short |"
done
