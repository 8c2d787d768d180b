#include "gotrace/report/profile_writers.h"

#include <fmt/format.h>
#include <zlib.h>

#include <chrono>
#include <map>
#include <unordered_map>

#include "gotrace/report/report_common.h"
#include "gotrace/util/output_file.h"

namespace gotrace {

namespace {

// Just enough protobuf: varints, length-delimited fields, packed repeated.
class Proto {
 public:
  void varint(uint64_t v) {
    while (v >= 0x80) {
      buf_.push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    buf_.push_back(static_cast<char>(v));
  }
  void tag(int field, int wire) { varint(static_cast<uint64_t>(field) << 3 | static_cast<uint64_t>(wire)); }
  void u64(int field, uint64_t v) {
    if (!v) return;  // proto3 default
    tag(field, 0);
    varint(v);
  }
  void i64(int field, int64_t v) { u64(field, static_cast<uint64_t>(v)); }
  void bytes(int field, std::string_view s) {
    tag(field, 2);
    varint(s.size());
    buf_.append(s);
  }
  void message(int field, const Proto& m) { bytes(field, m.buf_); }
  void packed(int field, const std::vector<uint64_t>& vs) {
    if (vs.empty()) return;
    Proto p;
    for (uint64_t v : vs) p.varint(v);
    bytes(field, p.buf_);
  }
  const std::string& str() const { return buf_; }

 private:
  std::string buf_;
};

class Strings {
 public:
  Strings() { index(""); }
  int64_t index(const std::string& s) {
    auto [it, added] = ids_.emplace(s, static_cast<int64_t>(list_.size()));
    if (added) list_.push_back(s);
    return it->second;
  }
  const std::vector<std::string>& list() const { return list_; }

 private:
  std::unordered_map<std::string, int64_t> ids_;
  std::vector<std::string> list_;
};

Proto value_type(Strings& st, const std::string& type, const std::string& unit) {
  Proto v;
  v.i64(1, st.index(type));
  v.i64(2, st.index(unit));
  return v;
}

int64_t now_unix_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

ProfileData new_profile(const TraceSummary& summary, const std::string& binary,
                        std::vector<std::pair<std::string, std::string>> sample_types, std::string comment) {
  ProfileData p;
  p.sample_types = std::move(sample_types);
  p.duration_ns = static_cast<int64_t>(summary.duration_s * 1e9);
  p.time_ns = now_unix_ns() - p.duration_ns;
  p.binary = binary;
  p.comments.push_back(std::move(comment));
  return p;
}

std::string encode_pprof(const ProfileData& p, StackTable& stacks) {
  Strings st;
  Proto prof;
  for (const auto& [type, unit] : p.sample_types) prof.message(1, value_type(st, type, unit));

  std::map<std::pair<std::string, std::string>, uint64_t> functions;  // (name, file) -> id
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> locations;        // (stack, frame group) -> id
  std::vector<Proto> location_msgs, function_msgs;
  auto function_id = [&](const Frame& f) {
    auto [it, added] = functions.emplace(std::make_pair(f.function, f.file), functions.size() + 1);
    if (added) {
      Proto fn;
      fn.u64(1, it->second);
      fn.i64(2, st.index(f.function));
      fn.i64(3, st.index(f.function));
      fn.i64(4, st.index(f.file));
      function_msgs.push_back(fn);
    }
    return it->second;
  };
  // One location per PC: its frames (inlined callees first, as pprof wants).
  std::map<uint64_t, uint64_t> by_pc;
  for (const auto& s : p.samples) {
    const auto& frames = stacks.frames(s.stack_id);
    std::vector<uint64_t> ids;
    for (size_t i = first_shown_frame(s, frames); i < frames.size();) {
      size_t j = i;
      while (j < frames.size() && frames[j].pc == frames[i].pc) ++j;
      uint64_t pc = frames[i].pc;
      auto it = by_pc.find(pc);
      if (it == by_pc.end()) {
        uint64_t id = by_pc.size() + 1;
        Proto loc;
        loc.u64(1, id);
        loc.u64(2, 1);  // the one mapping
        loc.u64(3, pc);
        for (size_t k = i; k < j; ++k) {
          Proto line;
          line.u64(1, function_id(frames[k]));
          line.i64(2, frames[k].line);
          loc.message(4, line);
        }
        location_msgs.push_back(loc);
        it = by_pc.emplace(pc, id).first;
      }
      ids.push_back(it->second);
      i = j;
    }
    Proto sample;
    sample.packed(1, ids);
    std::vector<uint64_t> values;
    for (int64_t v : s.values) values.push_back(static_cast<uint64_t>(v));
    sample.packed(2, values);
    for (const auto& [k, v] : s.labels) {
      Proto label;
      label.i64(1, st.index(k));
      label.i64(2, st.index(v));
      sample.message(3, label);
    }
    prof.message(2, sample);
  }
  Proto mapping;
  mapping.u64(1, 1);
  mapping.u64(3, ~0ULL);
  mapping.i64(5, st.index(p.binary));
  for (int f = 7; f <= 10; ++f) mapping.u64(f, 1);  // has functions, file names, line numbers, inline frames
  prof.message(3, mapping);
  for (const auto& l : location_msgs) prof.message(4, l);
  for (const auto& f : function_msgs) prof.message(5, f);
  std::vector<int64_t> comment_ids;
  for (const auto& c : p.comments) comment_ids.push_back(st.index(c));
  Proto period_type = value_type(st, p.sample_types.front().first, p.sample_types.front().second);
  for (const auto& s : st.list()) prof.bytes(6, s);
  prof.i64(9, p.time_ns);
  prof.i64(10, p.duration_ns);
  prof.message(11, period_type);
  prof.i64(12, 1);
  for (int64_t c : comment_ids) prof.i64(13, c);
  return prof.str();
}

namespace {

// raw as a gzip stream (what go tool pprof reads), in memory.
Result<std::string> gzipped(const std::string& raw) {
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return make_error("zlib: cannot start compressing");
  std::string out(deflateBound(&z, raw.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  z.avail_in = static_cast<uInt>(raw.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return make_error("zlib: compressing the profile failed ({})", rc);
  return out;
}

}  // namespace

size_t first_shown_frame(const ProfileSample& s, const std::vector<Frame>& frames) {
  if (!s.hide_runtime_leaf) return 0;
  for (size_t i = 0; i < frames.size();) {
    size_t j = i;
    bool runtime_only = true;
    for (; j < frames.size() && frames[j].pc == frames[i].pc; ++j)
      runtime_only &= frames[j].function.starts_with("runtime.");
    if (!runtime_only) return i;
    i = j;
  }
  return 0;
}

Result<void> write_pprof(const ProfileData& p, StackTable& stacks, const std::string& path) {
  auto gz = gzipped(encode_pprof(p, stacks));
  if (!gz) return make_error("writing {} failed: {}", path, gz.error().message);
  return write_file_replacing(path, *gz);  // whole or not at all
}

Result<void> write_folded(const ProfileData& p, StackTable& stacks, const std::string& path,
                          size_t value_index) {
  std::map<std::string, int64_t> lines;  // merge stacks that read the same
  for (const auto& s : p.samples) {
    const auto& frames = stacks.frames(s.stack_id);
    const auto shown_leaf = frames.rend() - static_cast<ptrdiff_t>(first_shown_frame(s, frames));
    std::string line;
    for (auto it = frames.rbegin(); it != shown_leaf; ++it) {
      if (!line.empty()) line += ';';
      for (char c : it->function) line += (c == ';' || c == ' ') ? '_' : c;
    }
    if (!s.leaf_note.empty()) {
      if (!line.empty()) line += ';';
      for (char c : s.leaf_note) line += c == ';' ? '_' : c;
    }
    if (value_index < s.values.size()) lines[line] += s.values[value_index];
  }
  std::string out;
  for (const auto& [l, v] : lines) out += fmt::format("{} {}\n", l, v);
  return write_file_replacing(path, out);  // whole or not at all
}

}  // namespace gotrace
