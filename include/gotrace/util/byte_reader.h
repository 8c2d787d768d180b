// Bounds-checked little/big-endian reads over untrusted bytes (ELF sections,
// pclntab, buildinfo). Every read either succeeds or returns nullopt; nothing
// here can read outside the span it was given.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>

namespace gotrace {

class ByteReader {
 public:
  ByteReader() = default;
  explicit ByteReader(std::span<const uint8_t> bytes, bool big_endian = false)
      : bytes_(bytes), big_endian_(big_endian) {}

  size_t size() const { return bytes_.size(); }
  std::span<const uint8_t> bytes() const { return bytes_; }
  bool in_range(uint64_t off, uint64_t n) const { return off <= bytes_.size() && n <= bytes_.size() - off; }

  std::optional<uint8_t> u8(uint64_t off) const {
    if (!in_range(off, 1)) return std::nullopt;
    return bytes_[off];
  }
  std::optional<uint16_t> u16(uint64_t off) const { return uint_n<uint16_t>(off); }
  std::optional<uint32_t> u32(uint64_t off) const { return uint_n<uint32_t>(off); }
  std::optional<uint64_t> u64(uint64_t off) const { return uint_n<uint64_t>(off); }
  std::optional<int32_t> i32(uint64_t off) const {
    auto v = u32(off);
    if (!v) return std::nullopt;
    return static_cast<int32_t>(*v);
  }
  // A pointer-sized unsigned word (4 or 8 bytes).
  std::optional<uint64_t> word(uint64_t off, unsigned ptr_size) const {
    if (ptr_size == 8) return u64(off);
    if (ptr_size == 4) return u32(off);
    return std::nullopt;
  }
  std::optional<std::span<const uint8_t>> slice(uint64_t off, uint64_t n) const {
    if (!in_range(off, n)) return std::nullopt;
    return bytes_.subspan(off, n);
  }
  // A NUL-terminated string starting at off (nullopt if no NUL before the end).
  std::optional<std::string_view> cstring(uint64_t off, size_t max_len = 1 << 20) const {
    if (off >= bytes_.size()) return std::nullopt;
    size_t limit = std::min<size_t>(bytes_.size() - off, max_len);
    const void* nul = std::memchr(bytes_.data() + off, 0, limit);
    if (!nul) return std::nullopt;
    return std::string_view(reinterpret_cast<const char*>(bytes_.data() + off),
                            static_cast<const uint8_t*>(nul) - (bytes_.data() + off));
  }
  // Go's uvarint (7 bits a byte, LSB first); advances off.
  std::optional<uint64_t> uvarint(uint64_t& off) const {
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
      auto b = u8(off);
      if (!b) return std::nullopt;
      ++off;
      v |= static_cast<uint64_t>(*b & 0x7f) << shift;
      if (!(*b & 0x80)) return v;
    }
    return std::nullopt;
  }

 private:
  template <typename T>
  std::optional<T> uint_n(uint64_t off) const {
    if (!in_range(off, sizeof(T))) return std::nullopt;
    T v = 0;
    for (size_t i = 0; i < sizeof(T); ++i) {
      size_t idx = big_endian_ ? i : sizeof(T) - 1 - i;
      v = static_cast<T>((v << 8) | bytes_[off + idx]);
    }
    return v;
  }

  std::span<const uint8_t> bytes_;
  bool big_endian_ = false;
};

}  // namespace gotrace
