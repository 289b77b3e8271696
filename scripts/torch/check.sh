#!/usr/bin/env bash
# Equivalence checks between Hark and the PyTorch trainer (needs torch, so not in cargo test/CI).
# Usage: scripts/torch/check.sh        (env: PYTHON=venv python, HARK_BIN=hark binary,
#                                        HARK_CHECK_DATA=folder with train/ and val/ of wav+txt)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
py="${PYTHON:-python3}"
if [ -z "${HARK_BIN:-}" ]; then
  (cd "$root" && cargo build --release --quiet)
  export HARK_BIN="$root/target/release/hark"
fi
export OMP_NUM_THREADS=1
exec "$py" "$here/tests/check_equivalence.py"
