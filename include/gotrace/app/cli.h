#pragma once

namespace gotrace::cli {
// Parses argv, runs the chosen command, returns the process exit code.
int main(int argc, char** argv);
}  // namespace gotrace::cli
