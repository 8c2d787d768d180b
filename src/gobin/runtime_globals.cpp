#include "gotrace/gobin/runtime_globals.h"

#include "gotrace/gobin/go_binary.h"

namespace gotrace {

std::string_view global_symbol(RtGlobal g) {
  switch (g) {
    case RtGlobal::Allglen: return "runtime.allglen";
    case RtGlobal::Allgptr: return "runtime.allgptr";
    case RtGlobal::Allgs: return "runtime.allgs";
    case RtGlobal::MemProfileRate: return "runtime.MemProfileRate";
    case RtGlobal::DisableMemoryProfiling: return "runtime.disableMemoryProfiling";
    case RtGlobal::Memstats: return "runtime.memstats";
    case RtGlobal::GcController: return "runtime.gcController";
    case RtGlobal::Work: return "runtime.work";
    case RtGlobal::Firstmoduledata: return "runtime.firstmoduledata";
    case RtGlobal::WaitReasonStrings: return "runtime.waitReasonStrings";
    case RtGlobal::Count: break;
  }
  return "?";
}

Result<GlobalAddress> find_global(const GoBinary& binary, RtGlobal g) {
  if (const ElfSymbol* s = binary.elf().symbol(global_symbol(g)); s && s->value)
    return GlobalAddress{s->value, "symtab"};
  // TODO(stripped): recover from the runtime code that references it.
  return make_error("{} not found (no symbol table)", global_symbol(g));
}

}  // namespace gotrace
