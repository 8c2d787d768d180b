// gotrace: see README.md. main() only builds the CLI and hands off.
#include <system_error>

#include "gotrace/app/cli.h"
#include "gotrace/session/trace_config.h"
#include "gotrace/util/output_file.h"
#include "gotrace/util/signals.h"

static_assert(gotrace::kExitInterrupted == 130, "util/signals.cpp exits 130 on a stop signal during startup");

namespace {
// Before the sanitizer runtime and the static constructors of every library
// run: a stop signal the parent left ignored is blocked, so that one sent
// right after the exec stays pending until main() has its handlers in,
// instead of being dropped (util/signals.h).
void block_at_exec(int, char**, char**) { gotrace::block_ignored_stop_signals(); }
[[gnu::section(".preinit_array"), gnu::used]] void (*preinit_block)(int, char**, char**) = block_at_exec;
}  // namespace

int main(int argc, char** argv) {
  gotrace::install_stop_signals();  // first: no Ctrl-C may be lost, even during startup
  gotrace::reserve_standard_fds();  // a closed stdout stays closed to writes (no file takes fd 1)
  try {
    return gotrace::cli::main(argc, argv);
  } catch (const std::system_error&) {
    // fmt throws when even stderr cannot be written (a full disk, a closed
    // pipe): nothing is left to say it with. The probes came off on the way
    // out (their owners' destructors).
    return gotrace::kExitOutput;
  }
}
