// Test support: the Go fixture binaries built by scripts/build-fixtures.sh and
// a way to run commands. A missing manifest fails the test, never skips it.
#pragma once

#include <string>
#include <vector>

namespace gotrace::test {

struct Fixture {
  int minor = 0;        // Go 1.<minor>
  std::string version;  // what `go version FILE` printed, e.g. "go1.22.12"
  std::string arch;     // "amd64" | "arm64"
  std::string variant;  // "default" | "stripped" | "pie" | "cgo"
  std::string program;  // directory name under tests/fixtures/go
  std::string path;
  std::string label() const;  // "go1.22/amd64-pie/analyze"
};

// Every fixture in the manifest; FAILs the running test if there is none.
const std::vector<Fixture>& fixtures();
std::vector<Fixture> fixtures_of(const std::string& program, const std::string& arch = "");

// The fixtures a command's matrix test traces: the default build on every
// release, and the other builds (stripped, PIE, cgo) on the releases where
// the runtime's shape changed or a build once failed: the oldest; 1.21
// (the last classic map with the 6-per-bucket load factor before swiss
// maps); 1.24 (swiss maps, spinbit runtime locks; lock's go1.24/cgo chain
// once failed there); and the newest two. The cut builds are still
// analysed statically by the unit tests (every fixture), and
// GOTRACE_FULL_MATRIX=1 traces them all.
std::vector<Fixture> matrix_fixtures(const std::string& program, const std::string& arch = "amd64");
// Whether matrix_fixtures takes every build of this release.
bool key_release(int minor);

// The fixtures a comparison with an external tool (go tool objdump, nm,
// addr2line) reads: of each release, architecture and build variant, one
// program, the choice rotating with the release and the variant so that
// every program is read in some release and variant, plus every fixture of
// `always` (the static-analysis program, say) when given. The rotation's
// offset is GOTRACE_TEST_SEED (default 0), printed once so that a failure
// can be re-run on the same sample; GOTRACE_FULL_MATRIX=1 gives them all.
// Each of these fixtures is still read by gotrace in the cheaper tests
// that run on every fixture (the pclntab against the ELF symbols, build
// facts, offsets, wait reasons).
std::vector<Fixture> tool_sample(const std::string& always = "");

struct CommandResult {
  int status = -1;  // exit status, or -1 if it did not exit normally
  std::string out;  // stdout
};
// Runs a shell command; stdout captured, stderr passed through.
CommandResult run_command(const std::string& command);
std::string shell_quote(const std::string& s);

// The newest `go` on PATH (its `go tool objdump/addr2line` read every version).
std::string go_command();

}  // namespace gotrace::test
