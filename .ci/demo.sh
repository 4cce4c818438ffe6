#!/usr/bin/env bash
# The default job exactly as a newcomer runs it (`cargo run --release`, no flags but an
# output directory and a JSON copy of the summary): it must finish, inject failures,
# recover every one, and its index must answer a query.
set -euo pipefail
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cargo run --release -q -- --out "$out/index" --json >"$out/summary.json"
field() { grep -o "\"$1\":[0-9]*" "$out/summary.json" | head -1 | cut -d: -f2; }
failures=$(field failures)
recoveries=$(field recoveries)
echo "default job: $failures failures detected, $recoveries recovered"
[ "$failures" -gt 0 ] || { echo "the default job injected no failure" >&2; exit 1; }
[ "$failures" = "$recoveries" ] || { echo "not every failure was recovered" >&2; exit 1; }
cargo run --release -q -- query pi --index "$out/index" --limit 3
