#!/usr/bin/env bash
# The test command: installs dependencies (OpenBLAS, the SmolLM2 test model), builds optimised, runs the
# whole suite. The real-model tests are required here (SWIFTTUNE_REQUIRE_MODEL), not skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/blas-env.sh
echo "test model: $(bash scripts/fetch-model.sh)"
export SWIFTTUNE_REQUIRE_MODEL=1
swift build -c release -Xswiftc -enable-testing --build-tests
swift test -c release -Xswiftc -enable-testing --skip-build
