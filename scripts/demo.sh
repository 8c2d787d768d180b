#!/usr/bin/env bash
# The README's first command: installs what is missing, builds gotrace, starts
# the bundled demo service (scripts/demo) and shows what gotrace sees in it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/build.sh"
build=${GOTRACE_BUILD_DIR:-$root/build}
(cd "$root/scripts/demo" && go build -o "$build/demo" .)

"$build/demo" -duration 60s >"$build/demo.log" 2>&1 &
demo_pid=$!
trap 'kill $demo_pid 2>/dev/null || true' EXIT
sleep 1
echo "== gotrace info -p $demo_pid"
"$build/gotrace" info -p "$demo_pid"
