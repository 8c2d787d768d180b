#!/usr/bin/env bash
# Attaches and detaches gotrace's tracing commands over and over against the
# lock fixture (tests/fixtures/go/lock, which checks its own invariants: every
# scenario keeps making progress; exit 1 otherwise), for a few Go versions.
#   scripts/soak.sh [--short] [CYCLES]   (default 50 cycles per Go version; --short: 2 cycles on the
#                                        oldest and newest Go, about a minute)
# Each cycle runs every tracing command once; every other run is ended by
# SIGINT mid-trace instead of -d. After each run it counts: non-zero exits,
# a target that died, BPF programs of gotrace left loaded with no process
# holding them (from bpftool and /proc/*/fdinfo), gotrace's peak RSS
# (/usr/bin/time -v, else /proc/PID/status VmHWM), and whether the target's
# code (its r-x mapping, read through /proc/PID/mem) still equals the file.
# Exit status 0 only when all of them are clean. Needs root.
# Environment: GOTRACE (default build/gotrace), GOTRACE_FIXTURES_DIR (default
# build-test/fixtures, else build/fixtures), SOAK_GO_VERSIONS ("1.19 1.26").
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cycles=50
short=0
for a in "$@"; do
  case $a in
    --short) short=1; cycles=2 ;;
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
  "$root"/bpf/*.bpf.c "$root"/bpf/*.bpf.h | sort -u | paste -sd'|')
[[ -n $ours ]] || { echo "soak.sh: no BPF program names found in $root/bpf" >&2; exit 1; }
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

runs=0 nonzero=0 target_fail=0 leaks=0 code_bad=0 peak_rss=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
have_time=0
[[ -x /usr/bin/time ]] && have_time=1
for minor in $minors; do
  fx=$(awk -F'\t' -v m="$minor" '$1 == m && $3 == "amd64" && $4 == "default" && $5 == "lock" {print $6}' "$fixtures/manifest.tsv")
  [[ -x $fx ]] || { echo "soak.sh: no lock fixture for go$minor" >&2; target_fail=$((target_fail + 1)); continue; }
  # Long enough for the cycles (a run takes 2-4 s, more on a loaded machine);
  # SIGTERM ends it once they are done: it checks its invariants then, and
  # the soak waits for that verdict.
  life=$((cycles * ${#commands[@]} * 20 + 30))
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
        # SIGINT once it traces (its status line), or after 3 s of startup.
        for _ in $(seq 30); do grep -q 'tracing\|probes' "$tmp/err" 2>/dev/null && break; sleep 0.1; done
        sleep 0.3
        pkill -INT -P $gp 2>/dev/null || kill -INT $gp 2>/dev/null || true
        set +e; wait $gp; rc=$?; set -e
      fi
      if ((rc != 0)); then
        nonzero=$((nonzero + 1))
        echo "soak.sh: go$minor cycle $i: gotrace $cmd exited $rc: $(tail -1 "$tmp/err")" >&2
      fi
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
  kill -TERM $tpid 2>/dev/null || true
  set +e; wait $tpid; trc=$?; set -e
  if ((trc != 0)) || ! grep -q '^ok' "$tmp/target.out"; then
    target_fail=$((target_fail + 1))
    echo "soak.sh: go$minor: target failed (exit $trc): $(grep -m1 FAIL "$tmp/target.out" || true)" >&2
  fi
done
echo "soak.sh: $runs runs (${commands[*]}) on go$(echo $minors | sed 's/ /, go/g'): $nonzero non-zero exits, $target_fail target failures, $leaks BPF programs left behind, $code_bad code mismatches, peak RSS ${peak_rss} kB"
((nonzero == 0 && target_fail == 0 && leaks == 0 && code_bad == 0))
