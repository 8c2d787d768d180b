// waitReason names: from runtime.waitReasonStrings in the binary, or from
// gotrace's per-version table when the binary has no symbols.
#include "gotrace/gobin/wait_reasons.h"

#include <elf.h>
#include <fmt/format.h>

#include "gotrace/util/byte_reader.h"

namespace gotrace {

std::string WaitReasons::name(unsigned value) const {
  if (value < names.size()) return names[value];
  return fmt::format("waitreason({})", value);
}

std::optional<unsigned> WaitReasons::value_of(std::string_view n) const {
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == n) return static_cast<unsigned>(i);
  return std::nullopt;
}

namespace {

constexpr uint64_t kMaxReasons = 256;  // waitReason is a uint8
constexpr uint64_t kMaxNameLen = 256;

}  // namespace

Result<WaitReasons> wait_reasons_from_binary(const ElfImage& image) {
  const ElfSymbol* sym = image.symbol("runtime.waitReasonStrings");
  if (!sym) return make_error("{} has no runtime.waitReasonStrings symbol (stripped binary?)", image.path());
  const unsigned ptr = image.ptr_size();
  const uint64_t entry = 2ull * ptr;  // a Go string header {ptr, len}
  if (sym->size == 0 || sym->size % entry != 0 || sym->size / entry > kMaxReasons)
    return make_error("{}: runtime.waitReasonStrings has an unexpected size ({} bytes)", image.path(),
                      sym->size);
  auto table = image.bytes_at_vaddr(sym->value, sym->size);
  if (!table)
    return make_error("{}: runtime.waitReasonStrings at {:#x} is not in the file", image.path(), sym->value);

  ByteReader r(*table, image.big_endian());
  WaitReasons out;
  out.source = WaitReasonSource::Binary;
  uint64_t count = sym->size / entry;
  out.names.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t p = r.word(i * entry, ptr).value_or(0);
    uint64_t len = r.word(i * entry + ptr, ptr).value_or(0);
    if (len == 0) {
      out.names.emplace_back();
      continue;
    }
    if (len > kMaxNameLen)
      return make_error("{}: waitReasonStrings[{}] has an implausible length {}", image.path(), i, len);
    auto bytes = image.bytes_at_vaddr(p, len);
    if (!bytes)
      return make_error("{}: waitReasonStrings[{}] points outside the file ({:#x})", image.path(), i, p);
    out.names.emplace_back(reinterpret_cast<const char*>(bytes->data()), bytes->size());
  }
  return out;
}

Result<WaitReasons> wait_reasons_from_table(const GoVersion& version) {
  // Verified against src/runtime/runtime2.go (the waitReason constants and
  // waitReasonStrings) of go1.17.13 … go1.26.11, and against the
  // runtime.waitReasonStrings of binaries those toolchains built.
  // clang-format off
  static const std::vector<std::string> kGo117 = {
      "", "GC assist marking", "IO wait", "chan receive (nil chan)", "chan send (nil chan)", "dumping heap",
      "garbage collection", "garbage collection scan", "panicwait", "select", "select (no cases)", "GC assist wait",
      "GC sweep wait", "GC scavenge wait", "chan receive", "chan send", "finalizer wait", "force gc (idle)",
      "semacquire", "sleep", "sync.Cond.Wait", "timer goroutine (idle)", "trace reader (blocked)",
      "wait for GC cycle", "GC worker (idle)", "preempted", "debug call"};
  // 1.20: TimerGoroutineIdle removed; sync.Mutex/RWMutex reasons inserted;
  // GC worker (active), GC mark termination, stopping the world added.
  static const std::vector<std::string> kGo120 = {
      "", "GC assist marking", "IO wait", "chan receive (nil chan)", "chan send (nil chan)", "dumping heap",
      "garbage collection", "garbage collection scan", "panicwait", "select", "select (no cases)", "GC assist wait",
      "GC sweep wait", "GC scavenge wait", "chan receive", "chan send", "finalizer wait", "force gc (idle)",
      "semacquire", "sleep", "sync.Cond.Wait", "sync.Mutex.Lock", "sync.RWMutex.RLock", "sync.RWMutex.Lock",
      "trace reader (blocked)", "wait for GC cycle", "GC worker (idle)", "GC worker (active)", "preempted",
      "debug call", "GC mark termination", "stopping the world"};
  static const std::vector<std::string> kGo122 = [] {
    auto v = kGo120;
    for (const char* s : {"flushing proc caches", "trace goroutine status", "trace proc status", "page trace flush",
                          "coroutine"})
      v.emplace_back(s);
    return v;
  }();
  static const std::vector<std::string> kGo123 = [] {
    auto v = kGo122;
    v.emplace_back("GC weak to strong wait");
    return v;
  }();
  // 1.24: sync.WaitGroup.Wait inserted after sync.RWMutex.Lock; synctest
  // reasons appended (named "(synctest)" in 1.24, "(durable)" from 1.25).
  static const std::vector<std::string> kGo124 = [] {
    auto v = kGo123;
    v.insert(v.begin() + 24, "sync.WaitGroup.Wait");
    for (const char* s : {"synctest.Run", "synctest.Wait", "chan receive (synctest)", "chan send (synctest)",
                          "select (synctest)"})
      v.emplace_back(s);
    return v;
  }();
  // 1.25: GOMAXPROCS updater (idle) inserted after force gc (idle).
  static const std::vector<std::string> kGo125 = [] {
    auto v = kGo123;
    v.insert(v.begin() + 24, "sync.WaitGroup.Wait");
    v.insert(v.begin() + 18, "GOMAXPROCS updater (idle)");
    for (const char* s : {"synctest.Run", "synctest.Wait", "chan receive (durable)", "chan send (durable)",
                          "select (durable)", "sync.WaitGroup.Wait (durable)", "cleanup wait"})
      v.emplace_back(s);
    return v;
  }();
  // 1.26: the channel and select reasons moved after sleep. 1.27 keeps 1.26's list.
  static const std::vector<std::string> kGo126 = [] {
    std::vector<std::string> v = {"", "GC assist marking", "IO wait", "dumping heap", "garbage collection",
                                  "garbage collection scan", "panicwait", "GC assist wait", "GC sweep wait",
                                  "GC scavenge wait", "finalizer wait", "force gc (idle)",
                                  "GOMAXPROCS updater (idle)", "semacquire", "sleep", "chan receive (nil chan)",
                                  "chan send (nil chan)", "select (no cases)", "select", "chan receive", "chan send"};
    v.insert(v.end(), kGo125.begin() + 21, kGo125.end());  // sync.Cond.Wait … cleanup wait, as in 1.25
    return v;
  }();

  // clang-format on

  if (version.major != 1 || version.minor < kOldestSupportedMinor || version.minor > kNewestKnownMinor)
    return make_error("no wait reason table for {} (gotrace has tables for go1.{} to go1.{})",
                      version.short_name(), kOldestSupportedMinor, kNewestKnownMinor);
  WaitReasons out;
  out.source = WaitReasonSource::VersionTable;
  switch (version.minor) {
    case 17:
    case 18:
    case 19:
      out.names = kGo117;
      break;
    case 20:
    case 21:
      out.names = kGo120;
      break;
    case 22:
      out.names = kGo122;
      break;
    case 23:
      out.names = kGo123;
      break;
    case 24:
      out.names = kGo124;
      break;
    case 25:
      out.names = kGo125;
      break;
    default:
      out.names = kGo126;
      break;
  }
  return out;
}

Result<WaitReasons> resolve_wait_reasons(const ElfImage& image, const std::optional<GoVersion>& version) {
  auto from_binary = wait_reasons_from_binary(image);
  if (from_binary) return from_binary;
  if (!version)
    return make_error(
        "cannot determine the wait reason names: {}; the Go version is unknown, so the built-in "
        "table cannot be used",
        from_binary.error().message);
  auto table = wait_reasons_from_table(*version);
  if (!table)
    return make_error("cannot determine the wait reason names: {}; {}", from_binary.error().message,
                      table.error().message);
  return table;
}

}  // namespace gotrace
