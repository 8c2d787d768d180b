#include "gotrace/cli/cli.h"

namespace gotrace::cli {
int main(int, char**) { return 0; }
}  // namespace gotrace::cli
