#!/usr/bin/env bash
# The whole test suite, as CI runs it: system packages, a virtual microphone (so the live-capture
# tests go through the real cpal path), format check, lints, every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if vmic_env=$(scripts/vmic.sh start 2>/dev/null); then
  eval "$vmic_env"
  trap 'scripts/vmic.sh stop >/dev/null 2>&1 || true' EXIT
  echo "test: virtual microphone up ($PULSE_SERVER)"
else
  echo "test: no virtual microphone; live tests check the no-microphone path only"
fi
python3 -m unittest discover -s scripts/realdata/tests
python3 -m unittest discover -s scripts/lm/tests
cargo fmt --check
cargo clippy --all-targets -- -D warnings
cargo test
