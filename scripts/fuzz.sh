#!/usr/bin/env bash
# Fuzzes gotrace's binary readers with libFuzzer (tests/fuzz: ELF, build
# information, pclntab, DWARF offsets, GoBinary with the disassembly of every
# probe site), ASan and UBSan, seeded with fixture binaries.
#   scripts/fuzz.sh [SECONDS]   each target SECONDS (default 600): long runs
#   scripts/fuzz.sh --short     each target 20 s (5 targets, one per core at a
#                               time: a minute on two cores once built): what
#                               scripts/test.sh runs
#   scripts/fuzz.sh --seeds-only  only find or build the seeds (no fuzzing)
# Builds with clang into build-fuzz/ (GOTRACE_FUZZ_BUILD_DIR). Seeds: the
# analyze fixtures of the oldest and newest Go, every variant, from
# GOTRACE_FIXTURES_DIR (default build-test/fixtures, else build/fixtures).
# Where none has them (a fresh build, this script run alone), it builds
# them first with scripts/build-fixtures.sh: into GOTRACE_FIXTURES_DIR when
# set, else build-fuzz/fixtures; only the analyze program, oldest and newest
# Go (of GOTRACE_GO_VERSIONS when set).
# New interesting inputs stay in build-fuzz/corpus/<target>; a crash leaves
# build-fuzz/artifacts/<target>/crash-* and makes the script fail.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${GOTRACE_FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=600
seeds_only=0
case ${1:-} in
  --short) seconds=20 ;;
  --seeds-only) seeds_only=1 ;;
  '') ;;
  *[!0-9]*) echo "usage: fuzz.sh [--short | --seeds-only | SECONDS]" >&2; exit 2 ;;
  *) seconds=$1 ;;
esac
targets=(fuzz_elf fuzz_buildinfo fuzz_pclntab fuzz_dwarf fuzz_gobinary)

# A fixtures directory whose manifest lists analyze binaries that are there.
has_seeds() {
  [[ -f $1/manifest.tsv ]] || return 1
  local path found=0
  while read -r path; do
    [[ -f $path ]] || return 1
    found=1
  done < <(awk -F'\t' '$5 == "analyze" {print $6}' "$1/manifest.tsv")
  ((found))
}
fixtures=${GOTRACE_FIXTURES_DIR:-}
if [[ -z $fixtures ]]; then
  for d in "$root/build-test/fixtures" "$root/build/fixtures"; do
    has_seeds "$d" && { fixtures=$d; break; }
  done
fi
if [[ -z $fixtures ]] || ! has_seeds "$fixtures"; then
  fixtures=${fixtures:-$build/fixtures}
  # Only what the seeds are made of: analyze, oldest and newest Go.
  versions=$("$root/scripts/go-toolchains.sh" list | cut -f1 | sort -t. -k2 -n)
  oldest=$(head -1 <<<"$versions")
  newest=$(tail -1 <<<"$versions")
  echo "fuzz.sh: no fixtures to seed from: building analyze (go$oldest, go$newest) into $fixtures" >&2
  GOTRACE_GO_VERSIONS="$oldest $newest" "$root/scripts/build-fixtures.sh" "$fixtures" analyze
  has_seeds "$fixtures" || { echo "fuzz.sh: building the fixtures gave no analyze binary" >&2; exit 1; }
fi

# Seeds: amd64 and arm64 analyze fixtures of the oldest and newest Go there.
seeds=$build/seeds
rm -rf "$seeds"
mkdir -p "$seeds"
minors=$(awk -F'\t' '$5 == "analyze" {print $1}' "$fixtures/manifest.tsv" | sort -t. -k2 -n -u)
first=$(head -1 <<<"$minors")
last=$(tail -1 <<<"$minors")
awk -F'\t' -v a="$first" -v b="$last" '$5 == "analyze" && ($1 == a || $1 == b) {print $6}' \
  "$fixtures/manifest.tsv" | while read -r path; do
  cp "$path" "$seeds/$(echo "${path#"$fixtures"/}" | tr / _)"
done
echo "fuzz.sh: $(ls "$seeds" | wc -l) seed binaries (go$first, go$last)$( ((seeds_only)) || echo ", ${seconds}s per target")"

((seeds_only)) && exit 0

# libFuzzer and the sanitizer runtimes of Debian's clang come in their own package.
rt=$(clang -print-resource-dir)/lib/linux/libclang_rt.fuzzer-x86_64.a
if [[ ! -f $rt ]]; then
  pkg=libclang-rt-$(clang -dumpversion | cut -d. -f1)-dev
  if [[ $(id -u) -eq 0 ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$pkg" >/dev/null
  else
    echo "fuzz.sh: no libFuzzer runtime ($rt): install $pkg" >&2
    exit 1
  fi
fi

CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" \
  -DGOTRACE_FUZZ=ON -DGOTRACE_TESTS=OFF >/dev/null
ninja -C "$build" gotrace_fuzz >/dev/null

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# One target per core at a time (each is a single process): on CI's two
# cores the short run takes half as long.
jobs=$(nproc)
fuzz_one() {  # target -> its log, and the fuzzer's exit status in its file `status`
  local t=$1 rc=0
  mkdir -p "$build/corpus/$t" "$build/artifacts/$t"
  rm -f "$build/artifacts/$t/status"
  # -max_len: the seeds are whole binaries; mutations must be able to reach their tables.
  "$build/tests/fuzz/$t" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=3072 -max_len=8000000 \
    -print_final_stats=1 -artifact_prefix="$build/artifacts/$t/" "$build/corpus/$t" "$seeds" \
    >"$build/artifacts/$t/last.log" 2>&1 || rc=$?
  echo "$rc" >"$build/artifacts/$t/status"
}
for t in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
  fuzz_one "$t" &
done
wait
failed=0
total=0
for t in "${targets[@]}"; do
  log=$build/artifacts/$t/last.log
  if [[ $(cat "$build/artifacts/$t/status" 2>/dev/null) == 0 ]]; then
    runs=$(awk '/^stat::number_of_executed_units:/ {print $2}' "$log")
    total=$((total + ${runs:-0}))
    echo "fuzz.sh: $t: ${runs:-?} inputs, clean"
  else
    failed=1
    echo "fuzz.sh: $t FAILED; log: $log; inputs: $(ls "$build/artifacts/$t" | grep -vE '^(last.log|status)$' | tr '\n' ' ')" >&2
    grep -m5 -E 'ERROR|runtime error|SUMMARY' "$log" >&2 || true
  fi
done
echo "fuzz.sh: $total inputs in all$([[ $failed == 0 ]] && echo ", no crash" || echo ", FAILURES above")"
exit $failed
