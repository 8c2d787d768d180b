// gotrace: see README.md. main() only builds the CLI and hands off.
#include <system_error>

#include "gotrace/cli/cli.h"
#include "gotrace/session/trace_config.h"
#include "gotrace/util/output_file.h"
#include "gotrace/util/signals.h"

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
