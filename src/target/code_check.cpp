#include "gotrace/target/code_check.h"

#include <elf.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "gotrace/elf/elf_image.h"

namespace gotrace {

CodeCheck compare_code_with_file(pid_t pid, const ElfImage& image, uint64_t load_bias, size_t keep) {
  CodeCheck out;
  int mem = ::open(fmt::format("/proc/{}/mem", pid).c_str(), O_RDONLY | O_CLOEXEC);
  if (mem < 0) {
    out.error = fmt::format("cannot read /proc/{}/mem: {}", pid, std::strerror(errno));
    return out;
  }
  std::vector<uint8_t> buf(1 << 20);
  const auto file = image.file_bytes();
  for (const ElfSegment& seg : image.segments()) {
    if (seg.type != PT_LOAD || !(seg.flags & PF_X) || seg.offset >= file.size()) continue;
    const uint64_t size = std::min<uint64_t>(seg.filesz, file.size() - seg.offset);
    for (uint64_t done = 0; done < size;) {
      const size_t chunk = static_cast<size_t>(std::min<uint64_t>(buf.size(), size - done));
      ssize_t n = pread(mem, buf.data(), chunk, static_cast<off_t>(seg.vaddr + load_bias + done));
      if (n <= 0) {
        if (out.bytes_compared == 0)
          out.error = fmt::format("cannot read PID {}'s code at {:#x}: {}", pid, seg.vaddr + load_bias + done,
                                  n < 0 ? std::strerror(errno) : "nothing there");
        break;
      }
      const uint8_t* f = file.data() + seg.offset + done;
      if (std::memcmp(buf.data(), f, static_cast<size_t>(n)) != 0) {
        for (ssize_t i = 0; i < n; ++i) {
          if (buf[static_cast<size_t>(i)] == f[i]) continue;
          ++out.bytes_differing;
          if (out.first.size() < keep)
            out.first.push_back(
                {seg.vaddr + done + static_cast<uint64_t>(i), f[i], buf[static_cast<size_t>(i)]});
        }
      }
      out.bytes_compared += static_cast<uint64_t>(n);
      done += static_cast<uint64_t>(n);
    }
  }
  ::close(mem);
  return out;
}

}  // namespace gotrace
