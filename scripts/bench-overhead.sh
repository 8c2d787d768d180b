#!/usr/bin/env bash
# Overhead of gotrace, measured side by side in one run:
#   untraced  |  gotrace  |  the naive way (bpftrace uprobes on the first
#   instruction of the same functions, counting by user stack)
# on (1) a channel ping-pong (park-heavy) and (2) a net/http server under wrk,
# for `gotrace block` and `lock` (probes, --sample, the governed defaults,
# and, for reference, Go's own block profile and runtime/trace in the
# server; requests/s next to the server's CPU time per request), and (3) many goroutines on one mutex, for `gotrace
# lock` (with and without wait chains), and (4) JSON encoding/decoding and map
# building in a loop, for `gotrace alloc` (each sampler, --maps, --exact,
# against a naive uprobe on runtime.mallocgc), plus `alloc --map-writes` on a
# map-write loop (against empty uprobes at the same sites, the floor, and a
# naive uprobe on mapassign's first instruction), and (5) how long each
# command takes to attach, to take its probes off, and to end after a Ctrl-C,
# on a quiet host and under a CPU hog (two busy loops per CPU), side by
# side, and (6) `gotrace sched` on the ping-pong (against an empty uprobe at
# execute, the floor, and bpftrace on its first instruction) and the server.
# Prints ratios and the cost per probed event. Needs root.
#   scripts/bench-overhead.sh [ROUNDS] [WRK_SECONDS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-200000}
wrk_s=${2:-8}
build=${GOTRACE_BUILD_DIR:-$root/build}
[[ $(id -u) -eq 0 ]] || { echo "bench-overhead: needs root" >&2; exit 1; }
"$root/scripts/build.sh" >/dev/null
"$root/scripts/setup.sh" --no-toolchains >/dev/null
out=$build/bench
mkdir -p "$out"
(cd "$root/scripts/bench" && go build -o "$out/pingpong" ./pingpong && go build -o "$out/httpserver" ./httpserver &&
  go build -o "$out/lockheavy" ./lockheavy && go build -o "$out/allocheavy" ./allocheavy &&
  go build -tags memprof -o "$out/allocheavy-prof" ./allocheavy)
gotrace=$build/gotrace
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

# Waits until FILE has a line matching REGEX, while PID lives, for at most
# 60 s; fails with a message otherwise.
wait_for_line() {  # file regex pid what
  local i
  for ((i = 0; i < 1200; i++)); do
    grep -qE "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || { echo "bench: $4 exited before it was ready:" >&2; cat "$1" >&2; return 1; }
    sleep 0.05
  done
  echo "bench: $4 was not ready within 60 s" >&2
  return 1
}

# Starts a tracer on PID and waits until it is attached. mode: none, gotrace
# (GOTRACE_ARGS, e.g. "block"), naive (NAIVE_PROBES: bpftrace probe list, with
# BIN standing for the binary; NAIVE_KEY: what it counts by).
start_tracer() {  # mode pid binary
  local mode=$1 pid=$2 bin=$3
  case $mode in
    none) tracer_pid="" ;;
    gotrace)
      : >"$tmp/gotrace.err"  # (not the last run's "Tracing" line: the job's redirection may come late)
      # shellcheck disable=SC2086
      "$gotrace" $GOTRACE_ARGS -p "$pid" --no-status >"$tmp/gotrace.out" 2>"$tmp/gotrace.err" &
      tracer_pid=$!
      wait_for_line "$tmp/gotrace.err" "^(Tracing|Sampling)" "$tracer_pid" gotrace ;;
    floor)
      # Bare tracefs uprobes at FLOOR_OFFSETS (file offsets) whose filter
      # rejects every hit: the traps alone, nothing recorded. (bpftrace
      # cannot probe inside a function unless built with offset checks.)
      local t=/sys/kernel/tracing o n=0
      [[ -e $t/uprobe_events ]] || mount -t tracefs nodev "$t"
      for o in $FLOOR_OFFSETS; do
        n=$((n + 1))
        echo "p:gotrace_bench/floor$n $bin:$o" >>"$t/uprobe_events"
        echo 'common_pid == 0' >"$t/events/gotrace_bench/floor$n/filter"
        echo 1 >"$t/events/gotrace_bench/floor$n/enable"
      done
      floor_on=$n tracer_pid="" ;;
    naive)
      # BEGIN fires once every probe is attached.
      bpftrace -p "$pid" -e "BEGIN { printf(\"attached\\n\"); }
        ${NAIVE_PROBES//BIN/$bin} { @[$NAIVE_KEY] = count(); }" \
        >"$tmp/naive.out" 2>&1 &
      tracer_pid=$!
      wait_for_line "$tmp/naive.out" "^attached" "$tracer_pid" bpftrace ;;
  esac
}
stop_tracer() {
  if [[ -n ${floor_on:-} ]]; then
    local n
    for ((n = 1; n <= floor_on; n++)); do
      echo 0 >"/sys/kernel/tracing/events/gotrace_bench/floor$n/enable"
      echo "-:gotrace_bench/floor$n" >>/sys/kernel/tracing/uprobe_events
    done
    floor_on=""
  fi
  [[ -n ${tracer_pid:-} ]] || return 0
  kill -INT "$tracer_pid" 2>/dev/null || true
  wait "$tracer_pid" 2>/dev/null || true
}

lockheavy() {  # mode -> elapsed ns
  local mode=$1
  coproc LH { "$out/lockheavy" -goroutines 16 -iters "$lock_iters"; }
  local line pid
  read -r line <&"${LH[0]}"
  pid=${line#ready }
  start_tracer "$mode" "$pid" "$out/lockheavy"
  kill -USR1 "$pid"
  read -r line <&"${LH[0]}"
  wait "$LH_PID" 2>/dev/null || true
  stop_tracer
  echo "$line" | awk '{print $2}'
}

allocheavy() {  # mode binary [flags...] -> elapsed ns
  local mode=$1 bin=$2
  shift 2
  local flags=("$@")
  [[ ${#flags[@]} -gt 0 ]] || flags=(-docs "$alloc_docs")
  coproc AH { "$bin" -goroutines 2 "${flags[@]}"; }
  local line pid
  read -r line <&"${AH[0]}"
  pid=${line#ready }
  start_tracer "$mode" "$pid" "$bin"
  kill -USR1 "$pid"
  read -r line <&"${AH[0]}"
  wait "$AH_PID" 2>/dev/null || true
  stop_tracer
  echo "$line" | awk '{print $2}'
}

pingpong() {  # mode -> elapsed ns
  local mode=$1
  coproc PP { "$out/pingpong" -rounds "$rounds"; }
  local line pid
  read -r line <&"${PP[0]}"
  pid=${line#ready }
  start_tracer "$mode" "$pid" "$out/pingpong"
  kill -USR1 "$pid"
  read -r line <&"${PP[0]}"
  wait "$PP_PID" 2>/dev/null || true
  stop_tracer
  echo "${line#elapsed_ns }"
}

# The server's CPU time (utime + stime) in clock ticks.
cpu_ticks() { awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$1/stat"; }

# mode [server flags...] -> "req/s cpu_us_per_request estimate governor"
# estimate: gotrace's own figure for its cost (% of the server's CPU), "-"
# when it has none; governor: what the governor did ("-": nothing).
http() {
  local mode=$1; shift
  coproc HS { "$out/httpserver" "$@"; }
  local line pid addr c0 c1 wrk_out
  read -r line <&"${HS[0]}"
  pid=$(echo "$line" | awk '{print $2}')
  addr=$(echo "$line" | awk '{print $3}')
  : >"$tmp/gotrace.out"; : >"$tmp/gotrace.err"
  start_tracer "$mode" "$pid" "$out/httpserver"
  c0=$(cpu_ticks "$pid")
  wrk_out=$(wrk -t2 -c64 -d"${wrk_s}s" "http://$addr/x" 2>/dev/null)
  c1=$(cpu_ticks "$pid")
  stop_tracer
  kill -INT "$pid" 2>/dev/null; wait "$HS_PID" 2>/dev/null || true  # (SIGINT: bash does not report it)
  local rps reqs est gov
  rps=$(echo "$wrk_out" | awk '/Requests\/sec/ {print $2}')
  reqs=$(echo "$wrk_out" | awk '/requests in/ {print $1}')
  est=$(awk '/^Cost to the target:/ {for (i=1;i<=NF;i++) if ($i ~ /^\([0-9.]+%$/) {gsub(/[(%]/, "", $i); print $i}}' "$tmp/gotrace.out" | head -1)
  gov=$(awk -F': ' '/^Overhead governor/ {n=split($2, a, ","); at=a[1]; sub(/ in$/, "", at); act=$3; sub(/ \(.*$/, "", act); sub(/ and started again$/, "", act); printf "%s%s: %s", sep, at, act; sep = "; "}' "$tmp/gotrace.out")
  echo "$rps $(awk -v a="$c0" -v b="$c1" -v n="$reqs" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.2f", (b-a)/hz*1e6/n}') ${est:--} ${gov:--}"
}

echo "gotrace overhead, $(date -u +%F), $(nproc) CPUs, Linux $(uname -r)"
echo
sections=${BENCH_SECTIONS:-1 2 3 4 5 6}  # e.g. BENCH_SECTIONS=3 for the lock benchmark only, 4b: map writes only
GOTRACE_ARGS=block
NAIVE_PROBES='uprobe:BIN:runtime.gopark'
NAIVE_KEY='ustack(perf, 48), reg("cx") & 0xff'
if [[ " $sections " == *" 1 "* ]]; then
echo "1) channel ping-pong, $rounds round trips ($((2 * rounds)) parks)"
# The floor: empty uprobes at the two sites gotrace plans for every park
# (gopark's and ready's entry sites, file offsets from `gotrace info`).
FLOOR_OFFSETS=$("$gotrace" info "$out/pingpong" | awk '$1 == "gopark" || $1 == "ready" {print $4}')
[[ $(wc -w <<<"$FLOOR_OFFSETS") -eq 2 ]] || { echo "bench: no gopark/ready sites in gotrace info" >&2; exit 1; }
# (--no-governor: the point is to measure what the governor would stop.)
pp_none=$(pingpong none); pp_floor=$(pingpong floor)
GOTRACE_ARGS="block --no-governor"; pp_gt=$(pingpong gotrace)
bpf_ns=$(awk '/^Cost to the target:/ {for (i = 1; i <= NF; i++) if ($i == "in" && $(i+1) == "BPF") print $(i-1)}' "$tmp/gotrace.out")
pp_naive=$(pingpong naive)
parks=$((2 * rounds))
awk -v n="$pp_none" -v f="$pp_floor" -v g="$pp_gt" -v b="$pp_naive" -v p="$parks" -v bpf="${bpf_ns:--}" 'BEGIN {
  printf "   untraced                     %8.1f ms\n", n/1e6
  printf "   empty uprobes, same 2 sites  %8.1f ms   x%.2f   %.2f µs per park (the floor)\n", f/1e6, f/n, (f-n)/p/1e3
  printf "   gotrace block --no-governor  %8.1f ms   x%.2f   %.2f µs per park = %.2f x the floor", g/1e6, g/n, (g-n)/p/1e3, (g-n)/(f-n)
  if (bpf ~ /^[0-9.]+(s|ms|µs)$/) {  # gotrace: its programs run time (bpf_stats)
    v = bpf + 0; if (bpf ~ /ms$/) v /= 1e3; else if (bpf ~ /µs$/) v /= 1e6
    printf ", of which BPF %.2f µs", v*1e6/p
  }
  printf "\n"
  printf "   naive bpftrace               %8.1f ms   x%.2f   %.2f µs per park\n", b/1e6, b/n, (b-n)/p/1e3
  printf "   gotrace slowdown is %.1f%% of the naive one ((x_gotrace-1)/(x_naive-1))\n", 100*(g-n)/(b-n)
}'
fi
if [[ " $sections " == *" 2 "* ]]; then
echo
echo "2) net/http server, wrk -t2 -c64 ${wrk_s}s: requests/s, and the server's CPU time per request (utime+stime)"
printf "   %-44s %9s %8s %9s %9s  %s\n" "" "req/s" "of base" "CPU/req" "+CPU/req" "(each round)  gotrace's estimate / governor"
# Every row runs BENCH_HTTP_ROUNDS times (default 2), the whole table once per
# round, so that a drift of the host over the minutes the table takes touches
# every row alike; each row is compared with the untraced run of its own
# round, and the rounds' figures are shown side by side: how far the untraced
# runs of one table differ from one another is the noise of this host.
http_rounds=${BENCH_HTTP_ROUNDS:-2}
labels=(); argss=(); modes=(); flagss=()
http_mode() { labels+=("$1"); argss+=("$2"); modes+=("$3"); flagss+=("${4:-}"); }
http_mode "untraced" block none
http_mode "gotrace block (probes, --no-governor)" "block --no-governor" gotrace
http_mode "gotrace block --sample (no probes)" "block --sample" gotrace
http_mode "gotrace block (default: governed, 5%)" block gotrace
http_mode "gotrace lock (probes, --no-governor)" "lock --no-governor" gotrace
http_mode "gotrace lock (default: governed, 5%)" lock gotrace
http_mode "naive bpftrace (uprobe on runtime.gopark)" block naive
http_mode "in-process: Go block+mutex profiles, rate 1" block none -blockprofile
http_mode "in-process: runtime/trace to /dev/null" block none -trace
declare -A res
GOTRACE_ARGS="block"
http none >/dev/null  # warm-up, not shown: the first run of a fresh server and wrk runs slow
for ((r = 1; r <= http_rounds; r++)); do
  for i in "${!labels[@]}"; do
    GOTRACE_ARGS=${argss[$i]}
    # shellcheck disable=SC2086  # flags: none or one word
    res[$i,$r]=$(http "${modes[$i]}" ${flagss[$i]})
  done
done
for i in "${!labels[@]}"; do
  line=""
  for ((r = 1; r <= http_rounds; r++)); do line+="${res[0,$r]}|${res[$i,$r]}"$'\n'; done
  printf '%s' "$line" | awk -F'|' -v l="${labels[$i]}" -v first="$i" '
    { split($1, b, " "); n = split($2, x, " ");
      est = x[3]; gov = ""; for (k = 4; k <= n; k++) gov = gov (k > 4 ? " " : "") x[k]
      rps[NR] = 100 * x[1] / b[1]; cpu[NR] = 100 * (x[2] - b[2]) / b[2]; us[NR] = x[2]; rs[NR] = x[1] }
    END {
      for (k = 1; k <= NR; k++) { sr += rs[k]; su += us[k]; sp += rps[k]; sc += cpu[k] }
      if (first == 0) {  # the untraced rows: their spread, the noise of the table
        lo = hi = us[1]; for (k = 2; k <= NR; k++) { if (us[k] < lo) lo = us[k]; if (us[k] > hi) hi = us[k] }
        printf "   %-44s %9.0f %7.1f%% %7.2fµs %9s  runs differ by %.1f%% in CPU/req\n", l, sr/NR, 100, su/NR, "", 100*(hi-lo)/lo
        exit
      }
      each = ""; for (k = 1; k <= NR; k++) each = each (k > 1 ? " / " : "") sprintf("%+.1f%%", cpu[k])
      printf "   %-44s %9.0f %7.1f%% %7.2fµs %+8.1f%%  (%s)%s%s\n", l, sr/NR, sp/NR, su/NR, sc/NR, each,
        (est == "-" ? "" : "  ~" est "% of its CPU"), (gov == "-" || gov == "" ? "" : (est == "-" ? "  " : "; ") gov)
    }'
done
echo "   (the governed runs include the probes' first fraction of a second, before the governor acts)"
fi
if [[ " $sections " == *" 3 "* ]]; then
echo
lock_iters=${LOCK_ITERS:-20000}
echo "3) 16 goroutines on one sync.Mutex, $((16 * lock_iters)) acquisitions"
go tool nm "$out/lockheavy" >"$tmp/nm.txt"
sym=$(awk '$3 ~ /sync.runtime_SemacquireMutex$/ {print $3}' "$tmp/nm.txt" | head -1)
NAIVE_PROBES="uprobe:BIN:\"$sym\", uprobe:BIN:runtime.semrelease1, uprobe:BIN:runtime.readyWithTime"
NAIVE_KEY='probe, ustack(perf, 48)'
l_none=$(lockheavy none)
GOTRACE_ARGS="lock --no-governor"; l_gt=$(lockheavy gotrace); waits=$(awk '/events;/ {print $4}' "$tmp/gotrace.out")
GOTRACE_ARGS="lock --no-chains --no-governor"; l_nc=$(lockheavy gotrace)
l_naive=$(lockheavy naive)
awk -v n="$l_none" -v g="$l_gt" -v c="$l_nc" -v b="$l_naive" -v w="${waits:-0}" 'BEGIN {
  printf "   untraced                  %8.1f ms   (%d contended waits seen by gotrace)\n", n/1e6, w
  printf "   gotrace lock              %8.1f ms   x%.2f\n", g/1e6, g/n
  printf "   gotrace lock --no-chains  %8.1f ms   x%.2f\n", c/1e6, c/n
  printf "   naive bpftrace            %8.1f ms   x%.2f\n", b/1e6, b/n
  if (w > 0) printf "   per contended wait: gotrace %.2f µs, --no-chains %.2f µs, naive %.2f µs\n", (g-n)/w/1e3, (c-n)/w/1e3, (b-n)/w/1e3
  if (b > n) printf "   gotrace slowdown is %.0f%% of the naive one (--no-chains: %.0f%%)\n", 100*(g-n)/(b-n), 100*(c-n)/(b-n)
}'
fi
if [[ " $sections " == *" 4 "* ]]; then
echo
alloc_docs=${ALLOC_DOCS:-20000}
echo "4) JSON encode/decode + maps, 2 goroutines x $alloc_docs documents"
NAIVE_PROBES='uprobe:BIN:runtime.mallocgc'
NAIVE_KEY='ustack(perf, 48)'
for flavour in prof plain; do
  bin=$out/allocheavy; [[ $flavour == prof ]] && bin=$out/allocheavy-prof
  a_none=$(allocheavy none "$bin")
  GOTRACE_ARGS="alloc"; a_gt=$(allocheavy gotrace "$bin"); sampler=$(awk '/^Sampler:/ {print $2, $3, $4}' "$tmp/gotrace.out")
  samples=$(awk '/samples;|estimated from/ {for (i=1;i<=NF;i++) if ($i=="from") print $(i+1)}' "$tmp/gotrace.out" | head -1)
  GOTRACE_ARGS="alloc --maps"; a_maps=$(allocheavy gotrace "$bin")
  GOTRACE_ARGS="alloc --exact --no-governor"; a_exact=$(allocheavy gotrace "$bin")
  GOTRACE_ARGS="alloc --map-writes --no-governor"; a_mw=$(allocheavy gotrace "$bin")
  mw=$(awk '/^Map writes/ {print $6; exit}' "$tmp/gotrace.out")
  a_naive=$(allocheavy naive "$bin")
  echo "   $([[ $flavour == prof ]] && echo 'with a heap-profile reader (MemProfileRate 512 KiB)' || echo 'without one (MemProfileRate 0)'): sampler $sampler"
  awk -v n="$a_none" -v g="$a_gt" -v m="$a_maps" -v x="$a_exact" -v b="$a_naive" -v s="${samples:-0}" \
    -v w="$a_mw" -v c="${mw:-0}" 'BEGIN {
    printf "     untraced               %8.1f ms\n", n/1e6
    printf "     gotrace alloc          %8.1f ms   x%.3f   (%d samples)\n", g/1e6, g/n, s
    printf "     gotrace alloc --maps   %8.1f ms   x%.3f\n", m/1e6, m/n
    printf "     gotrace alloc --exact  %8.1f ms   x%.2f\n", x/1e6, x/n
    printf "     alloc --map-writes     %8.1f ms   x%.2f   (%d map writes)\n", w/1e6, w/n, c
    printf "     naive bpftrace         %8.1f ms   x%.2f\n", b/1e6, b/n
    if (b > n) printf "     --exact slowdown is %.0f%% of the naive one\n", 100*(x-n)/(b-n)
  }'
done
fi
if [[ " $sections " == *" 4 "* || " $sections " == *" 4b "* ]]; then
echo
map_writes=${MAP_WRITES:-1000000}
echo "4b) map writes: one goroutine, $map_writes assignments into a small map[int64]int (mapassign_fast64)"
bin=$out/allocheavy
# (--no-governor: the point is to measure what the governor would stop.)
# gotrace's site: the JBE of mapassign_fast64's stack check (an emulated
# instruction), found in the binary as the planner finds it.
go tool objdump -s '^runtime.mapassign_fast64$' "$bin" >"$tmp/mapassign.txt"
jbe=$(awk '$4 == "JBE" {print $2; exit}' "$tmp/mapassign.txt")
text=$(readelf -lW "$bin" | awk '$1 == "LOAD" && $8 == "E" {print $2, $3; exit}')
FLOOR_OFFSETS=$(printf '0x%x' $((jbe - ${text#* } + ${text% *})))
NAIVE_PROBES='uprobe:BIN:runtime.mapassign_fast64'
NAIVE_KEY='ustack(perf, 48), reg("ax")'
w_none=$(allocheavy none "$bin" -goroutines 1 -mapwrites "$map_writes")
GOTRACE_ARGS="alloc --map-writes --no-governor"; w_gt=$(allocheavy gotrace "$bin" -goroutines 1 -mapwrites "$map_writes")
seen=$(awk '/^Map writes/ {print $6; exit}' "$tmp/gotrace.out")
w_floor=$(allocheavy floor "$bin" -goroutines 1 -mapwrites "$map_writes")
w_naive=$(allocheavy naive "$bin" -goroutines 1 -mapwrites "$map_writes")
GOTRACE_ARGS="alloc"; w_plain=$(allocheavy gotrace "$bin" -goroutines 1 -mapwrites "$map_writes")
awk -v n="$w_none" -v p="$w_plain" -v g="$w_gt" -v f="$w_floor" -v b="$w_naive" -v w="$map_writes" -v s="${seen:-0}" 'BEGIN {
  printf "   untraced                    %8.1f ms   %.1f ns per write\n", n/1e6, n/w
  printf "   gotrace alloc (no writes)   %8.1f ms   x%.2f\n", p/1e6, p/n
  printf "   gotrace alloc --map-writes  %8.1f ms   x%.2f   %.2f µs per write   (%d writes counted)\n", g/1e6, g/n, (g-n)/w/1e3, s
  printf "   empty uprobes, same sites   %8.1f ms   x%.2f   %.2f µs per write (floor)\n", f/1e6, f/n, (f-n)/w/1e3
  printf "   naive bpftrace              %8.1f ms   x%.2f   %.2f µs per write\n", b/1e6, b/n, (b-n)/w/1e3
  if (b > n) printf "   --map-writes slowdown is %.0f%% of the naive one\n", 100*(g-n)/(b-n)
}'
fi
if [[ " $sections " == *" 5 "* ]]; then
echo
runs=${ATTACH_RUNS:-5}
echo "5) attach, teardown and Ctrl-C: an idle net/http server, $runs runs per command, quiet and under a CPU hog ($((2 * $(nproc))) busy loops)"
"$out/httpserver" >"$tmp/lh.out" 2>&1 &
lh=$!
wait_for_line "$tmp/lh.out" "^ready" "$lh" httpserver
# One run: seconds from start to "Tracing" (attached), detach_s from the
# report, and seconds from SIGINT to exit; "start detach interrupt" per line.
one_run() {  # args...
  local t0 t1 t2 t3 gp
  # (emptied here: the background job's own redirection may come after
  # the wait below has already read the last run's "Tracing" line)
  : >"$tmp/a.err"
  t0=$(date +%s.%N)
  "$gotrace" -v "$@" -p "$lh" -d 60s --no-status --no-governor >"$tmp/a.out" 2>"$tmp/a.err" &
  gp=$!
  wait_for_line "$tmp/a.err" "^Tracing" "$gp" gotrace || return 1
  t1=$(date +%s.%N)
  sleep 0.5
  t2=$(date +%s.%N)
  kill -INT "$gp"
  wait "$gp" || true
  t3=$(date +%s.%N)
  local det
  # (-v: "detached N probes (M links…) in X ms")
  det=$(awk '/detached [0-9]+ probes/ {for (i=1;i<NF;i++) if ($(i+1) == "ms") {print $i/1000; exit}}' "$tmp/a.err")
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b-a}') ${det:-0} $(awk -v a="$t2" -v b="$t3" 'BEGIN {print b-a}')"
}
summary() {  # file label: the median and the largest of each column
  local col p50 max line=""
  for col in 1 2 3; do
    p50=$(cut -d' ' -f$col "$1" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]+0}')
    max=$(cut -d' ' -f$col "$1" | sort -g | tail -1)
    line+=" $p50 ${max:-0}"
  done
  # shellcheck disable=SC2086
  printf "   %-16s attach p50 %5.2fs max %5.2fs   teardown p50 %5.3fs max %5.3fs   Ctrl-C to exit p50 %5.2fs max %5.2fs\n" "$2" $line
}
hog_pids=()
for load in quiet hog; do
  if [[ $load == hog ]]; then
    for _ in $(seq $((2 * $(nproc)))); do (while :; do :; done) & hog_pids+=($!); done
  fi
  for cmd in block lock alloc; do
    : >"$tmp/runs"
    for _ in $(seq "$runs"); do one_run "$cmd" >>"$tmp/runs" || true; done
    summary "$tmp/runs" "$cmd ($load)"
  done
done
kill "${hog_pids[@]}" "$lh" 2>/dev/null || true
fi
if [[ " $sections " == *" 6 "* ]]; then
echo
echo "6) gotrace sched: channel ping-pong, $rounds round trips (every park is followed by an execute)"
# The floor: an empty uprobe at the site sched plans (execute's emulated JBE).
FLOOR_OFFSETS=$("$gotrace" info "$out/pingpong" | awk '$1 == "execute" {print $4}')
[[ $(wc -w <<<"$FLOOR_OFFSETS") -eq 1 ]] || { echo "bench: no execute site in gotrace info" >&2; exit 1; }
NAIVE_PROBES='uprobe:BIN:runtime.execute'
NAIVE_KEY='reg("ax")'
s_none=$(pingpong none); s_floor=$(pingpong floor)
GOTRACE_ARGS="sched --no-governor"; s_gt=$(pingpong gotrace)
executes=$(awk '/transitions timed/ {print $0}' "$tmp/gotrace.out" | head -1)
GOTRACE_ARGS="sched --exact --no-governor"; s_exact=$(pingpong gotrace)
s_naive=$(pingpong naive)
runs=$((2 * rounds))
awk -v n="$s_none" -v f="$s_floor" -v g="$s_gt" -v x="$s_exact" -v b="$s_naive" -v p="$runs" 'BEGIN {
  printf "   untraced                     %8.1f ms\n", n/1e6
  printf "   empty uprobe at execute      %8.1f ms   x%.2f   %.2f µs per run (the floor)\n", f/1e6, f/n, (f-n)/p/1e3
  printf "   gotrace sched --no-governor  %8.1f ms   x%.2f   %.2f µs per run = %.2f x the floor\n", g/1e6, g/n, (g-n)/p/1e3, (g-n)/(f-n)
  printf "   gotrace sched --exact        %8.1f ms   x%.2f   %.2f µs per run (park, ready, execute probed)\n", x/1e6, x/n, (x-n)/p/1e3
  printf "   naive bpftrace (1st insn)    %8.1f ms   x%.2f   %.2f µs per run\n", b/1e6, b/n, (b-n)/p/1e3
  if (b > n) printf "   gotrace slowdown is %.1f%% of the naive one\n", 100*(g-n)/(b-n)
}'
echo "   ($executes)"
echo "   HTTP server under wrk: req/s, the server's CPU µs per request, gotrace's own cost estimate, the governor"
printf "     untraced         %s\n" "$(http none)"
GOTRACE_ARGS="sched"; printf "     gotrace sched    %s\n" "$(http gotrace)"
GOTRACE_ARGS="sched --no-governor"; printf "     --no-governor    %s\n" "$(http gotrace)"
fi
