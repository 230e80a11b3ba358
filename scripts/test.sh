#!/usr/bin/env bash
# The test command: installs dependencies, then runs the whole suite optimised.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/blas-env.sh
swift build -c release -Xswiftc -enable-testing --build-tests
swift test -c release -Xswiftc -enable-testing --skip-build
