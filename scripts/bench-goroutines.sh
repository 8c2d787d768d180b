#!/usr/bin/env bash
# What `gotrace goroutines` costs, side by side in one run (a benchmark, not a
# test; the --leaks part needs root):
#   1) one snapshot of a process with PARKED parked goroutines (a fresh
#      gotrace each time: nothing cached) and repeated snapshots (a --watch:
#      walked stacks cached): wall time and gotrace's CPU time;
#   2) the target's work-loop throughput and worst heartbeat gap while
#      gotrace snapshots it back to back, against untraced;
#   3) the in-process alternative for the same information: the target
#      writes its own goroutine profile with debug=2 (pprof's full dump): its
#      wall time and its stop-the-world pause (heartbeat gap, and
#      runtime/metrics /sched/pauses);
#   4) `--watch 1s --leaks` on a net/http server that starts a goroutine per
#      request, under wrk: requests/s and the server's CPU time per request
#      (utime+stime from /proc/PID/stat), untraced against traced.
#   scripts/bench-goroutines.sh [PARKED] [SECONDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
parked=${1:-100000}
secs=${2:-8}
build=${GOTRACE_BUILD_DIR:-$root/build}
gotrace=$build/gotrace
[[ -x $gotrace ]] || { echo "bench-goroutines: no $gotrace (scripts/build.sh first)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "bench-goroutines: wrk missing (scripts/setup.sh installs it)" >&2; exit 1; }
out=$build/bench
mkdir -p "$out"
(cd "$root/scripts/bench" && go build -o "$out/manyg" ./manyg)
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT
ticks=$(getconf CLK_TCK)

echo "machine: $(nproc) CPUs, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "target: $parked parked goroutines, a work loop, a 1ms heartbeat ($(go version | cut -d' ' -f3))"

coproc T { "$out/manyg" -parked "$parked"; }
read -r line <&"${T[0]}"
pid=${line#ready }
ask() {  # command -> the target's answer line in $reply (coproc fds are gone in $(…) subshells)
  echo "$1" >&"${T[1]}"
  read -r reply <&"${T[0]}"
}
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }

# Runs gotrace with ARGS; prints "wall user sys" seconds and its peak RSS in KiB.
timed() {
  /usr/bin/time -f "%e %U %S %M" -o "$tmp/time" "$gotrace" "$@" >"$tmp/gotrace.out" 2>"$tmp/gotrace.err" ||
    { echo "bench-goroutines: gotrace $* failed:" >&2; cat "$tmp/gotrace.err" >&2; exit 1; }
  cat "$tmp/time"
}

echo
echo "1) gotrace goroutines -p PID (a fresh process each time: no cache), quiet and under a CPU hog"
echo "   ($((2 * $(nproc))) busy loops: an SRE's host in an incident)"
hog_pids=()
for load in quiet hog; do
  if [[ $load == hog ]]; then
    for _ in $(seq $((2 * $(nproc)))); do (while :; do :; done) & hog_pids+=($!); done
  fi
  for i in 1 2 3; do
    read -r w u s m < <(timed goroutines -p "$pid" --top 3)
    read_line=$(grep -o 'read in [^ ]*' "$tmp/gotrace.out" || true)
    printf "   %-5s snapshot %d: wall %ss, gotrace CPU %.2fs (user %s + sys %s), peak RSS %d MB; %s\n" "$load" "$i" \
      "$w" "$(echo "$u + $s" | bc)" "$u" "$s" "$((m / 1024))" "$read_line"
  done
done
kill "${hog_pids[@]}" 2>/dev/null || true
wait "${hog_pids[@]}" 2>/dev/null || true
read -r w u s m < <(timed goroutines -p "$pid" --watch 250ms -d "${secs}s" --json)
n=$(grep -o '"snapshots": *[0-9]*' "$tmp/gotrace.out" | head -1 | grep -o '[0-9]*$')
cpu=$(echo "$u + $s" | bc)
printf "   repeated (--watch 250ms for %ss): %s snapshots, gotrace CPU %.2fs = %.3fs per snapshot, peak RSS %d MB\n" \
  "$secs" "$n" "$cpu" "$(echo "$cpu / $n" | bc -l)" "$((m / 1024))"

echo
echo "2) the target's throughput while gotrace snapshots it back to back"
ask "measure $((secs * 1000))"
base=$reply
"$gotrace" goroutines -p "$pid" --watch 10ms -d "${secs}s" --json >/dev/null 2>"$tmp/watch.err" &
wpid=$!
ask "measure $((secs * 1000))"
traced=$reply
wait "$wpid"
b_ops=$(field ops_per_s "$base")
t_ops=$(field ops_per_s "$traced")
printf "   untraced: %s ops/s, worst heartbeat gap %s µs\n" "$b_ops" "$(field maxgap_us "$base")"
printf "   snapshotting: %s ops/s (%.3fx), worst heartbeat gap %s µs\n" "$t_ops" \
  "$(echo "$t_ops / $b_ops" | bc -l)" "$(field maxgap_us "$traced")"

echo
echo "3) in-process: pprof.Lookup(\"goroutine\").WriteTo(w, 2) (what /debug/pprof/goroutine?debug=2 serves)"
for i in 1 2 3; do
  ask pprof
  p=$reply
  printf "   dump %d: wall %s ms, worst heartbeat gap %s µs, longest stop-the-world so far ≤ %s µs, %s bytes\n" \
    "$i" "$(field wall_ms "$p")" "$(field maxgap_us "$p")" "$(field stw_max_us "$p")" "$(field bytes "$p")"
done
echo quit >&"${T[1]}" || true

echo
echo "4) --watch 1s --leaks on a net/http server with a goroutine per request, wrk -t2 -c32 ${secs}s"
if [[ $(id -u) -ne 0 ]]; then
  echo "   skipped: the probes need root"
  exit 0
fi
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
http_round() {  # mode -> "reqs_per_s cpu_us_per_req"
  coproc HS { "$out/manyg" -http 127.0.0.1:0; }
  local l spid addr
  read -r l <&"${HS[0]}"
  spid=$(cut -d' ' -f2 <<<"$l")
  addr=$(cut -d' ' -f3 <<<"$l")
  wrk -t2 -c32 -d1s "http://$addr/warm" >/dev/null 2>&1
  local wp=""
  if [[ $1 == traced ]]; then
    "$gotrace" goroutines -p "$spid" --watch 1s -d "$((secs + 2))s" --leaks --json >"$tmp/leaks.json" 2>"$tmp/leaks.err" &
    wp=$!
    sleep 1
  fi
  local c0 c1 res reqs
  c0=$(cpu_ticks "$spid")
  res=$(wrk -t2 -c32 -d"${secs}s" "http://$addr/x" 2>/dev/null)
  c1=$(cpu_ticks "$spid")
  [[ -n $wp ]] && wait "$wp"
  kill "$spid" 2>/dev/null || true
  wait "$HS_PID" 2>/dev/null || true
  reqs=$(awk '/requests in/ {print $1}' <<<"$res")
  echo "$(awk '/Requests\/sec/ {print $2}' <<<"$res") $(echo "($c1 - $c0) * 1000000 / $ticks / $reqs" | bc -l)"
}
read -r u_rps u_cpu < <(http_round untraced)
read -r t_rps t_cpu < <(http_round traced)
created=$(grep -o '"goroutines_created": *[0-9]*' "$tmp/leaks.json" | grep -o '[0-9]*$')
printf "   untraced: %s req/s, %.1f µs server CPU per request\n" "$u_rps" "$u_cpu"
printf "   --leaks:  %s req/s (%.3fx), %.1f µs server CPU per request (%.3fx); %s goroutines created while watched\n" \
  "$t_rps" "$(echo "$t_rps / $u_rps" | bc -l)" "$t_cpu" "$(echo "$t_cpu / $u_cpu" | bc -l)" "${created:-?}"
