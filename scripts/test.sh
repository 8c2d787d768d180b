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
"$root/scripts/setup.sh"
"$root/scripts/check-format.sh"
# -O1 with line tables: what ASan is meant for, and half the compile time of
# -O2 -g on CI's two cores.
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGOTRACE_SANITIZE=ON \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" >/dev/null
ninja -C "$build" gotrace gotrace_tests
"$root/scripts/build-fixtures.sh" "$build/fixtures"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
# The binary readers under libFuzzer for a short, time-boxed run (long runs:
# scripts/fuzz.sh SECONDS), and attach/detach cycles of every tracing command
# against a fixture that checks itself (long runs: scripts/soak.sh CYCLES);
# then every test case, ctest's summary last: the unit cases one per core at
# a time, the runtime ones (RUN_SERIAL: they measure times and costs) alone.
GOTRACE_FIXTURES_DIR="$build/fixtures" "$root/scripts/fuzz.sh" --short
if [[ $(id -u) -eq 0 ]]; then
  GOTRACE="$build/gotrace" GOTRACE_FIXTURES_DIR="$build/fixtures" "$root/scripts/soak.sh" --short
elif [[ ${CI:-} == true ]]; then
  echo "test.sh: CI=true but not root: the soak cannot run" >&2
  exit 1
fi
cd "$build"
ctest --output-on-failure -j"$(nproc)" "$@"
