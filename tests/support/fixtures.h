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
