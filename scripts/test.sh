#!/usr/bin/env bash
# The README's second command: installs what is missing (packages and Go
# toolchains), builds gotrace with AddressSanitizer, builds the Go fixture
# matrix, and runs every test. Under CI=true the BPF tests must run: not
# being root there is a failure, not a skip.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${GOTRACE_TEST_BUILD_DIR:-$root/build-test}

if [[ ${CI:-} == true && $(id -u) -ne 0 ]]; then
  echo "test.sh: CI=true but not root: the BPF tests cannot run" >&2
  exit 1
fi
# Seconds per phase, printed with the per-test table at the end.
phases=()
phase_start=$SECONDS
phase() {
  phases+=("$(printf '%6ds  %s' $((SECONDS - phase_start)) "$1")")
  phase_start=$SECONDS
}
"$root/scripts/setup.sh"
"$root/scripts/check-format.sh"
phase "setup (packages, Go toolchains) and format check"
# The fixture matrix builds while the C++ compiles (the Go builds wait on
# the linker and the module cache as much as on the CPU).
mkdir -p "$build"
"$root/scripts/build-fixtures.sh" "$build/fixtures" >"$build/build-fixtures.log" 2>&1 &
fixtures_pid=$!
# -O1 with line tables: what ASan is meant for, and half the compile time of
# -O2 -g on CI's two cores.
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGOTRACE_SANITIZE=ON \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" >/dev/null
ninja -C "$build" gotrace gotrace_tests
if ! wait $fixtures_pid; then
  cat "$build/build-fixtures.log" >&2
  echo "test.sh: building the fixtures failed" >&2
  exit 1
fi
grep -v "loadinternal: cannot find runtime/cgo\|^# gotrace.test/" "$build/build-fixtures.log" || true
phase "C++ build (ASan) and fixtures, side by side"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
# The binary readers under libFuzzer for a short, time-boxed run (long runs:
# scripts/fuzz.sh SECONDS), and attach/detach cycles of every tracing command
# against a fixture that checks itself (long runs: scripts/soak.sh CYCLES);
# then every test case, ctest's summary last: the unit cases one per core at
# a time, the runtime ones (RUN_SERIAL: they measure times and costs) alone.
# A failure in one stage does not hide the others: all run, and the exit
# status is the first failure's.
# Each stage's stderr is kept too: the reasons a stage failed are repeated
# at the very end, where a CI log cut to its tail still shows them.
failed=()
reasons=()
# Runs a command with its stderr shown and copied to LOG; its exit status.
run_logged() { # LOG COMMAND...
  local log=$1 rc
  shift
  { "$@" 2>&1 1>&3 3>&- | tee "$log" >&2; rc=${PIPESTATUS[0]}; } 3>&1
  return "$rc"
}
stage_failed() { # NAME LOG
  failed+=("$1")
  reasons+=("$(printf 'test.sh: %s failed; the last of what it said:\n' "$1"; tail -n 15 "$2" | sed 's/^/  /')")
}
fuzz_err="$build/fuzz-last.err"
GOTRACE_FIXTURES_DIR="$build/fixtures" run_logged "$fuzz_err" "$root/scripts/fuzz.sh" --short ||
  stage_failed fuzz.sh "$fuzz_err"
phase "fuzz.sh --short"
if [[ $(id -u) -eq 0 ]]; then
  soak_err="$build/soak-last.err"
  GOTRACE="$build/gotrace" GOTRACE_FIXTURES_DIR="$build/fixtures" run_logged "$soak_err" "$root/scripts/soak.sh" --short ||
    stage_failed soak.sh "$soak_err"
elif [[ ${CI:-} == true ]]; then
  echo "test.sh: CI=true but not root: the soak cannot run" >&2
  exit 1
fi
phase "soak.sh --short"
cd "$build"
ctest_log="$build/ctest-last.log"
set +e
ctest --output-on-failure -j"$(nproc)" "$@" 2>&1 | tee "$ctest_log"
ctest_rc=${PIPESTATUS[0]}
set -e
if ((ctest_rc != 0)); then
  failed+=("ctest")
  reasons+=("$(echo "test.sh: ctest failed:"; sed -n '/tests failed out of/,$p' "$ctest_log" | sed 's/^/  /')")
fi
phase "ctest"

# The per-test time table: the slowest first, then the phases.
echo
echo "test.sh: seconds per test (slowest first)"
perl -ne 'printf "%s\t%s%s\n", $3, $1, ($2 eq "Passed" ? "" : "  [$2]") if /Test\s+#\d+: (.*?) \.+\s*\**\s*(\w[\w ]*?)\s+([\d.]+) sec$/' "$ctest_log" |
  sort -rn | awk -F'\t' '{ printf "%8.1fs  %s\n", $1, $2; s += $1 } END { printf "%8.1fs  in all, %d tests\n", s, NR }'
echo "test.sh: seconds per phase"
printf '%s\n' "${phases[@]}"
printf '%6ds  in all\n' "$SECONDS"
if ((${#failed[@]})); then
  printf '%s\n' "${reasons[@]}" >&2
  echo "test.sh: failed: ${failed[*]}" >&2
  exit 1
fi
