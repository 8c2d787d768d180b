// The signals that end gotrace: SIGINT, SIGTERM and SIGHUP only set a flag,
// from the first line of main on, so that none is ever lost (during startup
// gotrace stops cleanly; during a trace it ends and prints; a second Ctrl-C
// while the probes come off changes nothing). SIGINT and SIGTERM are caught
// even when the parent ignored them (a background job of a script).
// SIGPIPE is ignored: a closed stdout becomes a write error we report.
#pragma once

namespace gotrace {

void install_stop_signals();
// The first stop signal received, 0 if none.
int stop_signal();

}  // namespace gotrace
