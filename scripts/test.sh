#!/usr/bin/env bash
# The whole test suite, as CI runs it: system packages, format check, lints, every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo fmt --check
cargo clippy --all-targets -- -D warnings
cargo test
