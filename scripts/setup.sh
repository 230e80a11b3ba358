#!/usr/bin/env bash
# Installs what SwiftTune needs on a fresh Debian machine: OpenBLAS (through pkg-config).
set -euo pipefail
if ! pkg-config --exists openblas 2>/dev/null; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    $SUDO DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libopenblas-dev pkg-config >/dev/null
fi
