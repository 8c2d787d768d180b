// gotrace: see README.md. main() only builds the CLI and hands off.
#include "gotrace/cli/cli.h"
#include "gotrace/util/signals.h"

int main(int argc, char** argv) {
  gotrace::install_stop_signals();  // first: no Ctrl-C may be lost, even during startup
  return gotrace::cli::main(argc, argv);
}
