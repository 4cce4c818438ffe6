#!/usr/bin/env bash
# Components the ordinary steps need. Miri's are installed (or skipped) by miri.sh.
set -euo pipefail
rustup component add rustfmt clippy
rustc --version
cargo --version
