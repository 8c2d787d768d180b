#!/usr/bin/env bash
# The README's first command: installs what is missing, builds gotrace, starts
# the bundled demo service (scripts/demo: HTTP handlers, a worker pool fed by
# channels, a mutex-guarded cache, a ticker, and its own load), traces where
# its goroutines block for a few seconds (within the default overhead budget,
# then with every wait probed), which locks they fight over, what
# allocates, where goroutines wait to run (its CPU-bound bursts), and what
# all its goroutines are doing; prints the reports, stops the demo.
#   scripts/demo.sh [SECONDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-5}
"$root/scripts/build.sh" >/dev/null
build=${GOTRACE_BUILD_DIR:-$root/build}
(cd "$root/scripts/demo" && go build -o "$build/demo" .)

"$build/demo" >"$build/demo.log" 2>&1 &
demo_pid=$!
trap 'kill $demo_pid 2>/dev/null || true' EXIT
for ((i = 0; i < 300; i++)); do  # 30 s at most
  grep -q "serving" "$build/demo.log" 2>/dev/null && break
  kill -0 "$demo_pid" 2>/dev/null || { echo "demo: the demo service exited:" >&2; cat "$build/demo.log" >&2; exit 1; }
  sleep 0.1
done
grep -q "serving" "$build/demo.log" || { echo "demo: the demo service did not start within 30 s" >&2; exit 1; }
cat "$build/demo.log"

run() { echo; echo "\$ $*"; "$@"; }
if [[ $(id -u) -ne 0 ]]; then
  echo "demo: tracing needs root; showing what gotrace sees without it" >&2
  run "$build/gotrace" info -p "$demo_pid"
  exit 0
fi
# As a user would first run it: within the default overhead budget (the demo
# service parks so often that the governor switches block to sampling), then
# with every wait probed (wakers, exact counts, percentiles) at the cost the
# report states.
run "$build/gotrace" block -p "$demo_pid" -d "${secs}s" --top 5
run "$build/gotrace" block -p "$demo_pid" -d "${secs}s" --top 3 --no-governor
run "$build/gotrace" lock -p "$demo_pid" -d "${secs}s" --top 3
run "$build/gotrace" alloc -p "$demo_pid" -d "${secs}s" --top 5
run "$build/gotrace" sched -p "$demo_pid" -d "${secs}s" --top 3
run "$build/gotrace" goroutines -p "$demo_pid" --top 5
