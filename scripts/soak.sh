#!/usr/bin/env bash
# Attaches and detaches gotrace's tracing commands over and over against the
# lock fixture (tests/fixtures/go/lock, which checks its own invariants: every
# scenario keeps making progress; exit 1 otherwise), for a few Go versions.
#   scripts/soak.sh [--short] [CYCLES]   (default 50 cycles per Go version; --short: 1 cycle on the
#                                        oldest and newest Go, about a minute)
# Each cycle runs every tracing command once; every other run is ended by
# SIGINT mid-trace instead of -d. After each run it counts: non-zero exits,
# a target that died, BPF programs of gotrace left loaded with no process
# holding them (from bpftool and /proc/*/fdinfo), gotrace's peak RSS
# (/usr/bin/time -v, else /proc/PID/status VmHWM), and whether the target's
# code (its r-x mapping, read through /proc/PID/mem) still equals the file.
# Then, per Go version, the ways a target or gotrace can go wrong under it:
# gotrace SIGKILLed while it detaches (after a Ctrl-C) in every command; a
# target that execs another program mid-trace; a PID reused while gotrace
# attaches; gotrace in a PID namespace. All of it under a CPU hog (one busy
# loop per CPU, as on a loaded host; SOAK_HOG=0 leaves it out).
# Exit status 0 only when all of them are clean. Needs root.
# Environment: GOTRACE (default build/gotrace), GOTRACE_FIXTURES_DIR (default
# build-test/fixtures, else build/fixtures), SOAK_GO_VERSIONS ("1.19 1.26").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cycles=50
short=0
for a in "$@"; do
  case $a in
    --short) short=1; cycles=1 ;;
    *[!0-9]*|'') echo "usage: soak.sh [--short] [CYCLES]" >&2; exit 2 ;;
    *) cycles=$a ;;
  esac
done
[[ $(id -u) -eq 0 ]] || { echo "soak.sh: needs root (BPF)" >&2; exit 1; }
gotrace=${GOTRACE:-}
if [[ -z $gotrace ]]; then
  for g in "$root/build/gotrace" "$root/build-test/gotrace"; do [[ -x $g ]] && { gotrace=$g; break; }; done
fi
[[ -x ${gotrace:-} ]] || { echo "soak.sh: no gotrace binary (set GOTRACE)" >&2; exit 1; }
gotrace=$(realpath "$gotrace")
fixtures=${GOTRACE_FIXTURES_DIR:-}
if [[ -z $fixtures ]]; then
  for d in "$root/build-test/fixtures" "$root/build/fixtures"; do [[ -f $d/manifest.tsv ]] && { fixtures=$d; break; }; done
fi
[[ -f ${fixtures:-}/manifest.tsv ]] || { echo "soak.sh: no fixtures (set GOTRACE_FIXTURES_DIR)" >&2; exit 1; }

# Tracing commands: every subcommand whose help takes -p and -d (not info).
commands=()
for c in $("$gotrace" --help 2>&1 | awk '/^[A-Z]*[Ss]ubcommands:/ || /^[A-Z]*[Cc]ommands:/ {on=1; next} on && NF {print $1}'); do
  [[ $c == info ]] && continue
  help=$("$gotrace" "$c" --help 2>&1 || true)
  [[ $help == *"-p"* && $help == *"-d"* ]] && commands+=("$c")
done
((${#commands[@]})) || commands=(block lock)

all_minors=$(awk -F'\t' '$3 == "amd64" && $4 == "default" && $5 == "lock" {print $1}' "$fixtures/manifest.tsv" | sort -t. -k2 -n -u)
if [[ -n ${SOAK_GO_VERSIONS:-} ]]; then minors=$SOAK_GO_VERSIONS
elif ((short)); then minors="$(head -1 <<<"$all_minors") $(tail -1 <<<"$all_minors")"
else minors=$all_minors; fi

# gotrace's program names, from its BPF sources (the kernel keeps 15 characters).
ours=$(awk '/^SEC\(/ {sec=1; next} sec && match($0, /[a-z_0-9]+\(struct pt_regs/) {print substr($0, RSTART, 15 < RLENGTH - 15 ? 15 : RLENGTH - 15)} {sec=0}' \
  "$root"/src/commands/*/*.bpf.c "$root"/bpf/*.bpf.h | sort -u | paste -sd'|')
[[ -n $ours ]] || { echo "soak.sh: no BPF program names found in $root/src/commands" >&2; exit 1; }
# gotrace programs loaded but held by no process: left behind.
leftover_progs() {
  local ids held
  ids=$(bpftool prog show 2>/dev/null | awk -v re="^($ours)\$" '/^[0-9]+:/ {id=$1; sub(":", "", id); for (i=1;i<NF;i++) if ($i == "name" && $(i+1) ~ re) print id}')
  [[ -z $ids ]] && { echo 0; return; }
  held=$(cat /proc/[0-9]*/fdinfo/* 2>/dev/null | awk '/^prog_id:/ {print $2}' | sort -u)
  comm -23 <(sort -u <<<"$ids") <(echo "$held") | grep -c . || true
}
# 0 when the target's executable r-x mappings equal the file's bytes (FILE:
# another copy to compare with, for checking this check).
code_differs() {
  local pid=$1 exe=$2 file=${3:-$2} bad=0
  while read -r range perms off _ _ path; do
    [[ $perms == r-xp && $path == "$exe" ]] || continue
    local start=$((16#${range%-*})) end=$((16#${range#*-})) fo=$((16#$off))
    local size=$((end - start)) fsize
    fsize=$(stat -c %s "$file")
    ((fo + size > fsize)) && size=$((fsize - fo))
    if ! cmp -s <(dd if=/proc/$pid/mem bs=4096 iflag=skip_bytes,count_bytes skip=$start count=$size status=none) \
                <(dd if="$file" bs=4096 iflag=skip_bytes,count_bytes skip=$fo count=$size status=none); then
      bad=1
    fi
  done </proc/$pid/maps
  echo $bad
}

runs=0 nonzero=0 target_fail=0 leaks=0 code_bad=0 peak_rss=0 faults=0 fault_bad=0
# Stacks the BPF side gave up because its per-CPU scratch was overwritten
# under it (lost_stack_clobbered): counted over every run, to tell whether
# the scratch needs a per-task owner.
clobbered=0 clobber_runs=0
tmp=$(mktemp -d)
hogs=()
trap 'kill "${hogs[@]}" 2>/dev/null; rm -rf "$tmp"' EXIT
if [[ ${SOAK_HOG:-1} != 0 ]]; then
  for _ in $(seq "$(nproc)"); do (while :; do :; done) & hogs+=($!); done
fi
# Waits up to 5 s for the target's code to equal its file again (the probe
# keeper takes the probes off after a killed gotrace); 0 when it does.
code_clean_after_kill() {
  local pid=$1 exe=$2
  for _ in $(seq 50); do [[ $(code_differs "$pid" "$exe") == 0 ]] && { echo 0; return; }; sleep 0.1; done
  echo 1
}
fault() {  # name, 0 when clean
  faults=$((faults + 1))
  if [[ $2 != 0 ]]; then fault_bad=$((fault_bad + 1)); echo "soak.sh: go$minor: $1 failed" >&2; fi
}
fixture_of() {  # program
  awk -F'\t' -v m="$minor" -v p="$1" '$1 == m && $3 == "amd64" && $4 == "default" && $5 == p {print $6}' "$fixtures/manifest.tsv"
}
have_time=0
[[ -x /usr/bin/time ]] && have_time=1
for minor in $minors; do
  fx=$(awk -F'\t' -v m="$minor" '$1 == m && $3 == "amd64" && $4 == "default" && $5 == "lock" {print $6}' "$fixtures/manifest.tsv")
  [[ -x $fx ]] || { echo "soak.sh: no lock fixture for go$minor" >&2; target_fail=$((target_fail + 1)); continue; }
  # Long enough for the cycles (a run takes 2-4 s, more on a loaded machine);
  # SIGTERM ends it once they are done: it checks its invariants then, and
  # the soak waits for that verdict.
  life=$(((cycles + 1) * ${#commands[@]} * 30 + 60))
  "$fx" -duration "${life}s" -runtime-contention >"$tmp/target.out" 2>&1 &
  tpid=$!
  for _ in $(seq 50); do grep -q '^ready' "$tmp/target.out" && break; sleep 0.1; done
  exe=$(readlink /proc/$tpid/exe)
  for ((i = 1; i <= cycles; i++)); do
    kill -0 $tpid 2>/dev/null || { echo "soak.sh: go$minor: the target ended before cycle $i" >&2; break; }
    for cmd in "${commands[@]}"; do
      runs=$((runs + 1))
      wrap=()
      ((have_time)) && wrap=(/usr/bin/time -v -o "$tmp/time")
      if ((runs % 2)); then
        set +e; "${wrap[@]}" "$gotrace" "$cmd" -p $tpid -d 0.5s --json >"$tmp/out" 2>"$tmp/err"; rc=$?; set -e
      else
        "${wrap[@]}" "$gotrace" "$cmd" -p $tpid -d 60s --json >"$tmp/out" 2>"$tmp/err" &
        gp=$!
        # SIGINT once it traces (its probes are in the target's code: with
        # --json there is no status line), or after 15 s of startup.
        for _ in $(seq 150); do [[ $(code_differs $tpid "$exe") != 0 ]] && break; sleep 0.1; done
        sleep 0.3
        pkill -INT -P $gp 2>/dev/null || kill -INT $gp 2>/dev/null || true
        set +e; wait $gp; rc=$?; set -e
      fi
      if ((rc != 0)); then
        nonzero=$((nonzero + 1))
        echo "soak.sh: go$minor cycle $i: gotrace $cmd exited $rc: $(tail -1 "$tmp/err")" >&2
      fi
      c=$(grep -o '"lost_stack_clobbered": *[0-9]*' "$tmp/out" 2>/dev/null | grep -o '[0-9]*$' || true)
      if [[ -n $c ]]; then clobber_runs=$((clobber_runs + 1)); clobbered=$((clobbered + c)); fi
      if ((have_time)); then
        rss=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$tmp/time")
        ((${rss:-0} > peak_rss)) && peak_rss=$rss
      fi
      l=$(leftover_progs)
      if ((l > 0)); then leaks=$((leaks + l)); echo "soak.sh: go$minor cycle $i $cmd: $l BPF programs left loaded" >&2; fi
      if kill -0 $tpid 2>/dev/null; then
        if [[ $(code_differs $tpid "$exe") != 0 ]]; then
          code_bad=$((code_bad + 1)); echo "soak.sh: go$minor cycle $i $cmd: target code differs from its file" >&2
        fi
      fi
    done
  done
  # SIGKILL while detaching, every command: the breakpoints must come out.
  for cmd in "${commands[@]}"; do
    [[ $cmd == goroutines ]] && continue  # (probes only with --leaks)
    kill -0 $tpid 2>/dev/null || break
    "$gotrace" "$cmd" -p $tpid -d 60s --no-status >"$tmp/out" 2>"$tmp/err" &
    gp=$!
    for _ in $(seq 100); do grep -q 'Tracing\|Sampling' "$tmp/err" 2>/dev/null && break; sleep 0.1; done
    sleep 0.3
    kill -INT $gp 2>/dev/null; sleep "0.0$((RANDOM % 5))"; kill -KILL $gp 2>/dev/null
    wait $gp 2>/dev/null || true
    ok=$(code_clean_after_kill $tpid "$exe")
    fault "SIGKILL during $cmd's detach: breakpoints left" "$ok"
    ((ok == 0)) || tail -3 "$tmp/err" | sed 's/^/  gotrace: /' >&2
  done
  kill -TERM $tpid 2>/dev/null || true
  set +e; wait $tpid; trc=$?; set -e
  if ((trc != 0)) || ! grep -q '^ok' "$tmp/target.out"; then
    target_fail=$((target_fail + 1))
    echo "soak.sh: go$minor: target failed (exit $trc): $(grep -m1 FAIL "$tmp/target.out" || tail -1 "$tmp/target.out")" >&2
  fi
done
for minor in $minors; do
  hot=$(fixture_of hotpark) lockfx=$(fixture_of lock)
  [[ -x $hot && -x $lockfx ]] || { echo "soak.sh: no hotpark/lock fixture for go$minor" >&2; fault "fixtures" 1; continue; }
  # A target that execs another program mid-trace: gotrace says so and
  # ends; the new program's code is its file's, and it runs to its end.
  "$hot" -exec-on-usr2 "$lockfx" -rate 1000 -duration 60s -- -duration 4s >"$tmp/target.out" 2>&1 &
  tpid=$!
  for _ in $(seq 50); do grep -q '^ready' "$tmp/target.out" && break; sleep 0.1; done
  "$gotrace" lock -p $tpid -d 30s --no-status --no-governor >"$tmp/out" 2>"$tmp/err" &
  gp=$!
  for _ in $(seq 100); do grep -q 'Tracing' "$tmp/err" 2>/dev/null && break; sleep 0.1; done
  sleep 0.5
  kill -USR2 $tpid
  set +e; wait $gp; rc=$?; set -e
  ok=0
  ((rc == 0)) && grep -q "exec'd a new program" "$tmp/err" || ok=1
  sleep 0.3
  [[ $(code_differs $tpid "$lockfx") == 0 ]] || ok=1
  set +e; wait $tpid; trc=$?; set -e
  ((trc == 0)) || ok=1
  fault "exec mid-trace (gotrace exit $rc, target exit $trc)" $ok
  ((ok == 0)) || { tail -3 "$tmp/err" | sed 's/^/  gotrace: /'; tail -3 "$tmp/target.out" | sed 's/^/  target: /'; } >&2
  # A PID reused while gotrace attaches (in a PID namespace, where
  # ns_last_pid hands the old PID to the new process): refused, and the
  # new process is left alone.
  cat >"$tmp/reuse.sh" <<REUSE
cd $tmp
$hot -rate 1000 -duration 30s >old.out 2>&1 & old=\$!
sleep 1
GOTRACE_TEST_DELAY_ATTACH_MS=2000 $gotrace block -p \$old --no-governor -d 3s --no-status >g.out 2>g.err & g=\$!
# (Until gotrace says it is about to attach: under the hog an ASan build
# takes seconds to start, and killing the old target before gotrace opened
# it would test nothing.)
for i in \$(seq 600); do grep -q 'attaching in' g.err && break; sleep 0.1; done
grep -q 'attaching in' g.err || { echo "gotrace did not reach its attach in 60 s: \$(cat g.err)"; exit 1; }
kill -9 \$old; wait \$old 2>/dev/null
echo \$((old - 1)) > /proc/sys/kernel/ns_last_pid
$lockfx -duration 4s >new.out 2>&1 & new=\$!
wait \$g; rc=\$?
[ \$old = \$new ] || { echo "PID not reused (\$old, \$new)"; exit 1; }
[ \$rc = 1 ] && grep -q 'is another process now' g.err || { echo "gotrace exit \$rc: \$(cat g.err)"; exit 1; }
wait \$new || { echo "the new process failed"; exit 1; }
REUSE
  ok=0
  unshare --pid --fork --mount-proc /bin/sh "$tmp/reuse.sh" >"$tmp/reuse.out" 2>&1 || { ok=1; cat "$tmp/reuse.out" >&2; }
  fault "PID reuse while attaching" $ok
  # gotrace in a PID namespace, on a target of that namespace: it sees it.
  ok=0
  unshare --pid --fork --mount-proc /bin/sh -c "$hot -rate 1000 -duration 8s >/dev/null 2>&1 & t=\$!; sleep 1; \
    $gotrace block -p \$t -d 1s --json --no-status --no-governor" >"$tmp/ns.json" 2>"$tmp/ns.err" || ok=1
  grep -Eq '"events": ?[1-9]' "$tmp/ns.json" || { ok=1; tail -3 "$tmp/ns.err" >&2; }
  fault "block in a PID namespace" $ok
done

echo "soak.sh: $runs runs (${commands[*]}) on go$(echo $minors | sed 's/ /, go/g')$( ((${#hogs[@]})) && echo " under a CPU hog"): $nonzero non-zero exits, $target_fail target failures, $leaks BPF programs left behind, $code_bad code mismatches, peak RSS ${peak_rss} kB; $clobbered stacks lost to a clobbered scratch in $clobber_runs reports; $faults fault scenarios (SIGKILL at detach, exec, PID reuse, PID namespace), $fault_bad failed"
((nonzero == 0 && target_fail == 0 && leaks == 0 && code_bad == 0 && fault_bad == 0))
