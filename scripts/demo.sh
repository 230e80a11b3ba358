#!/usr/bin/env bash
# The main job: installs dependencies, builds optimised, runs the end-to-end demo on the yoda data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release --product swifttune
.build/release/swifttune demo "$@"
