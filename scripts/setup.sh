#!/usr/bin/env bash
# Installs everything gotrace needs to build and test. Idempotent: installs only
# what is missing. Usage: scripts/setup.sh [--build-only] [--no-toolchains]
set -euo pipefail

build_pkgs=(
  build-essential cmake ninja-build pkg-config
  clang llvm libbpf-dev bpftool
  libelf-dev libdw-dev zlib1g-dev libzstd-dev liblzma-dev libbz2-dev
  libcapstone-dev
  libcli11-dev libfmt-dev libspdlog-dev catch2
)
test_pkgs=(golang-1.19-go gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu wrk bpftrace file clang-format libclang-rt-14-dev
           librsvg2-bin)

want=("${build_pkgs[@]}")
[[ " $* " == *" --build-only "* ]] || want+=("${test_pkgs[@]}")

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [[ " $* " != *" --build-only "* ]] && ! command -v go >/dev/null; then
  echo "setup: no 'go' on PATH; the demo and tests need a Go toolchain (Go 1.21+)" >&2
  exit 1
fi

# Go toolchains for the fixture matrix (downloaded once through the module proxy).
if [[ " $* " != *" --build-only "* && " $* " != *" --no-toolchains "* ]]; then
  "$(dirname "$0")/go-toolchains.sh" fetch
fi
