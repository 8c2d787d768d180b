// gotrace: see README.md. main() only builds the CLI and hands off.
#include "gotrace/cli/cli.h"

int main(int argc, char** argv) { return gotrace::cli::main(argc, argv); }
