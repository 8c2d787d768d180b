// gotrace's own PID namespace. A PID the user gives (-p) is one of this
// namespace; the BPF programs see the kernel's (initial namespace's) PIDs
// unless told which namespace to translate to (gotrace in a container or a
// debug sidecar: `unshare --pid --fork --mount-proc`, `kubectl debug`).
#pragma once

#include <cstdint>

namespace gotrace {

struct PidNamespace {
  uint64_t dev = 0, ino = 0;  // st_dev and st_ino of /proc/self/ns/pid
  bool initial = true;        // the host's own: PIDs need no translation
};

PidNamespace own_pid_namespace();

}  // namespace gotrace
