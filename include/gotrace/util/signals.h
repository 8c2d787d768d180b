// The signals that end gotrace: SIGINT, SIGTERM and SIGHUP. None is ever
// lost: main() installs the handlers first thing, then unblocks the stop
// signals, so that one pending (blocked) when gotrace was exec'd is taken
// then. Before main() (the sanitizer runtime and the static constructors
// run first) a stop signal the parent left at its default ends gotrace at
// once, by the kernel; one the parent left ignored (a background job of a
// script) would be dropped, so those are blocked from a .preinit_array
// entry on, and taken once main() has its handlers in. SIGINT and SIGTERM
// are caught even when the parent ignored them.
//
// While gotrace only prepares (analyses the binary, runs the host
// self-test, loads the programs, reads goroutines) and holds nothing the
// kernel would not release by itself, a stop signal ends it at once: one
// line ("gotrace: interrupted before tracing began (Interrupt)") and exit
// 130, without waiting for the step under way, which can take seconds on a
// loaded host. Once it holds something to put back in order (probes
// attached), a signal only sets the flag below, which the trace loop and
// the long reads check: it ends and prints, and a second Ctrl-C while the
// probes come off changes nothing.
// SIGPIPE is ignored: a closed stdout becomes a write error we report.
#pragma once

#include <string_view>

namespace gotrace {

// Blocks the stop signals that are ignored (inherited so across the exec);
// async-signal-safe, for the very first code run (main.cpp).
void block_ignored_stop_signals();
// Installs the handlers, then unblocks the stop signals; ends gotrace at
// once if one is pending (see exit_on_stop_signal: armed from here on).
void install_stop_signals();
// The first stop signal received, 0 if none.
int stop_signal();

// From now on a stop signal ends gotrace at once with
// "gotrace: interrupted <what> (<signal>)" and exit 130; if one came already,
// now. Only while nothing needs undoing before exit.
void exit_on_stop_signal(std::string_view what);
// From now on a stop signal only sets the flag (stop_signal()).
void defer_stop_signals();
// The one line for a stop signal that ends gotrace, with its newline:
// "gotrace: interrupted <what> (Interrupt)\n".
std::string interrupted_line(std::string_view what, int sig);

}  // namespace gotrace
