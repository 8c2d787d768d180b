#!/usr/bin/env bash
# Builds gotrace into build/ (or $GOTRACE_BUILD_DIR). Extra args go to cmake.
#   scripts/build.sh [-DGOTRACE_SANITIZE=ON …]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${GOTRACE_BUILD_DIR:-$root/build}
"$root/scripts/setup.sh" --build-only
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
ninja -C "$build" gotrace
