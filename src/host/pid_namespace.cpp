#include "gotrace/host/pid_namespace.h"

#include <sys/stat.h>

namespace gotrace {

// The initial PID namespace's inode number is fixed (PROC_PID_INIT_INO in
// include/linux/proc_ns.h).
constexpr uint64_t kInitialPidNamespaceIno = 0xEFFFFFFCU;

PidNamespace own_pid_namespace() {
  PidNamespace ns;
  struct stat st {};
  if (stat("/proc/self/ns/pid", &st) != 0) return ns;  // no namespaces: the initial one
  ns.dev = st.st_dev;
  ns.ino = st.st_ino;
  ns.initial = ns.ino == kInitialPidNamespaceIno;
  return ns;
}

}  // namespace gotrace
