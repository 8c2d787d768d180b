#include "commands/info/info_report.h"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <algorithm>

#include "gotrace/report/json_writer.h"
#include "gotrace/report/report_common.h"
#include "gotrace/util/printable_stream.h"

namespace gotrace {

InfoReport build_info_report(const GoBinary& binary, const HostFeatures& host,
                             std::span<const ProbeTable* const> tables) {
  InfoReport r;
  r.binary = &binary;
  r.path = binary.elf().path();
  r.sites = plan_all_sites(binary);
  r.host = host;
  for (const ProbeTable* t : tables) r.verdicts.push_back(check_command(*t, binary, host, r.sites));
  return r;
}

namespace {

std::string yes_no(bool b) { return b ? "yes" : "no"; }

std::string site_column(const PlannedSite& s) {
  if (s.symbol.empty()) return "-";
  if (!s.code.entry_site) return "none: " + s.code.no_entry_site_reason;
  const CodeSite& site = *s.code.entry_site;
  return fmt::format("+{} {} ({})", site.address - s.function.entry, site.text, site_kind_name(site.kind));
}

// "runtime.gopark+0x4" for a link-time address, or the address alone.
std::string code_place(const GoBinary& b, uint64_t vaddr) {
  auto fn = b.pclntab().function_at(vaddr);
  if (!fn) return fmt::format("{:#x}", vaddr);
  return fmt::format("{}+{:#x}", printable(fn->name), vaddr - fn->entry);
}

// What the differing bytes of the target's code mean, and what to do.
void write_code_text(const GoBinary& b, const CodeCheck& c, std::ostream& out) {
  if (!c.error.empty()) {
    fmt::print(out, "Code          not compared with the file: {}\n", c.error);
    return;
  }
  if (c.bytes_differing == 0) {
    fmt::print(out, "Code          equal to the file ({} bytes compared): no breakpoint in it\n",
               c.bytes_compared);
    return;
  }
  const bool x86 = b.elf().arch() == Arch::X86_64;
  fmt::print(out, "Code          {} byte{} differ{} from the file{}:\n", c.bytes_differing,
             c.bytes_differing == 1 ? "" : "s", c.bytes_differing == 1 ? "s" : "",
             c.first.size() < c.bytes_differing ? fmt::format(" (the first {})", c.first.size()) : "");
  for (const CodeChange& ch : c.first)
    fmt::print(out, "                {:#x} {:<40} file {:02x}, memory {:02x}{}\n", ch.vaddr,
               code_place(b, ch.vaddr), ch.file_byte, ch.memory_byte,
               x86 && ch.memory_byte == 0xcc ? " (int3: a breakpoint)" : "");
  fmt::print(
      out,
      "              Breakpoints of a tracer attached now (gotrace, bpftrace: `bpftool link` lists\n"
      "              its uprobes), or left behind by one that could not take them out (the kernel\n"
      "              logs \"leaking uprobe\"). Left ones cost the target a trap at every hit and stay\n"
      "              for the process's life: restart it to clear them.\n");
}

std::string linking(const BuildFacts& f) {
  return f.external_linking ? "external linking" : "internal linking";
}

}  // namespace

void write_info_text(const InfoReport& r, std::ostream& raw_out) {
  PrintableOStream out(raw_out);  // nothing from the target reaches the terminal raw
  const GoBinary& b = *r.binary;
  const BuildFacts& f = b.facts();
  if (r.pid) {
    fmt::print(out, "Target        PID {} ({}), {}{}\n", *r.pid, r.comm, r.path, r.alive ? "" : " (exited)");
    if (r.load_bias) fmt::print(out, "Load bias     {:#x}\n", *r.load_bias);
    if (r.code) write_code_text(b, *r.code, out);
  } else {
    fmt::print(out, "Binary        {}\n", r.path);
  }
  fmt::print(out, "Go            {} {}/{}\n", printable(b.buildinfo().version_string), "linux",
             b.elf().arch_label());
  fmt::print(out, "Build         {}, {}, {}, {}, cgo {}\n", f.build_mode, linking(f),
             f.stripped ? "stripped (no .symtab)" : "symbols", f.dwarf ? "DWARF" : "no DWARF",
             f.cgo ? "on" : "off");
  if (!b.buildinfo().main_path.empty())
    fmt::print(out, "Main package  {}\n", printable(b.buildinfo().main_path));
  for (const char* key : {"GOEXPERIMENT", "-ldflags", "-tags"})
    if (auto v = b.buildinfo().setting(key); !v.empty()) fmt::print(out, "  {:<12}{}\n", key, printable(v));
  const Pclntab& tab = b.pclntab();
  fmt::print(out, "pclntab       {} format, {} functions, text at {:#x}, table at {:#x}\n",
             format_name(tab.format()), tab.function_count(), tab.text_start(), tab.table_vaddr());

  fmt::print(out, "\nRuntime offsets\n");
  if (!b.offsets()) {
    fmt::print(out, "  unknown: {}\n", b.offsets().error().message);
  } else {
    for (size_t i = 0; i < kRtFieldCount; ++i) {
      const FieldOffset& o = b.offsets()->fields[i];
      if (o.known())
        fmt::print(out, "  {:<16}{:>5}  {}\n", field_name(static_cast<RtField>(i)), o.value,
                   source_name(o.source));
      else
        fmt::print(out, "  {:<16}{:>5}  (not in this version)\n", field_name(static_cast<RtField>(i)), "-");
    }
  }

  fmt::print(out, "\nWait reasons  ");
  if (!b.wait_reasons()) {
    fmt::print(out, "unknown: {}\n", b.wait_reasons().error().message);
  } else {
    const WaitReasons& w = *b.wait_reasons();
    fmt::print(out, "{} (from {})\n", w.names.size(),
               w.source == WaitReasonSource::Binary ? "runtime.waitReasonStrings" : "the version table");
    std::string line = " ";
    for (size_t i = 0; i < w.names.size(); ++i) {
      std::string item = fmt::format(" {}={}", i, w.names[i].empty() ? "\"\"" : w.names[i]);
      if (line.size() + item.size() > 100) {
        fmt::print(out, "{}\n", line);
        line = " ";
      }
      line += item;
    }
    fmt::print(out, "{}\n", line);
  }

  fmt::print(out, "\nProbe sites (entry = first emulated instruction before any state change)\n");
  fmt::print(out, "  {:<30}{:<44}{:>10}{:>10}  {:>4}  {}\n", "ROLE", "FUNCTION", "ADDRESS", "FILE OFF",
             "RETS", "ENTRY SITE");
  for (const auto& s : r.sites) {
    const RoleSpec& spec = role_spec(s.role);
    if (s.symbol.empty()) {
      fmt::print(out, "  {:<30}{:<44}{:>10}{:>10}  {:>4}  {}\n", spec.id, "(not in this build)", "-", "-",
                 "-", "-");
      continue;
    }
    std::string off = s.site_file_offset ? fmt::format("{:#x}", *s.site_file_offset) : "-";
    std::string rets = std::to_string(s.code.rets.size());
    if (!s.code.tail_jumps.empty()) rets += fmt::format("+{}j", s.code.tail_jumps.size());
    fmt::print(out, "  {:<30}{:<44}{:>10}{:>10}  {:>4}  {}\n", spec.id, s.symbol,
               fmt::format("{:#x}", s.function.entry), off, rets, site_column(s));
  }

  const HostFeatures& h = r.host;
  fmt::print(
      out, "\nHost          Linux {}; {}; BTF {}; uprobes {}; ring buffer {}; multi-uprobe links {}\n",
      h.kernel_release,
      h.privileged() ? (h.cap_sys_admin ? "CAP_SYS_ADMIN" : "CAP_BPF+CAP_PERFMON") : "cannot attach uprobes",
      yes_no(h.btf), yes_no(h.uprobes), h.ringbuf ? yes_no(*h.ringbuf) : "unknown (needs root to probe)",
      h.uprobe_multi ? (*h.uprobe_multi ? "yes (fast detach)" : "no (probes come off one by one)")
                     : "unknown");
  if (h.trap_ns_per_hit)
    fmt::print(out,
               "              one probe hit costs ~{} here (a trap at an emulated instruction, measured)\n",
               format_duration(static_cast<uint64_t>(*h.trap_ns_per_hit)));
  fmt::print(out, "\nCan trace\n");
  size_t width = 0;  // the names in one column ("goroutines --leaks" is the longest)
  for (const auto& v : r.verdicts) width = std::max(width, v.command.size());
  for (const auto& v : r.verdicts) {
    fmt::print(out, "  {:<{}}  {}\n", v.command, width, v.can_run ? "yes" : "no");
    for (const auto& why : v.reasons) fmt::print(out, "          - {}\n", why);
    for (const auto& w : v.warnings) fmt::print(out, "          ! {}\n", w);
  }
}

void write_info_json(const InfoReport& r, std::ostream& out) {
  const GoBinary& b = *r.binary;
  const BuildFacts& f = b.facts();
  JsonWriter j(out);
  j.begin_object();
  if (r.pid) {
    j.field("pid", *r.pid);
    j.field("comm", r.comm);
    j.field("alive", r.alive);
    if (r.load_bias) j.field("load_bias", *r.load_bias);
    if (r.code) {
      j.key("code");
      j.begin_object();
      if (!r.code->error.empty()) j.field("error", r.code->error);
      j.field("bytes_compared", r.code->bytes_compared);
      j.field("bytes_differing", r.code->bytes_differing);
      j.key("changes");
      j.begin_array();
      for (const CodeChange& ch : r.code->first) {
        j.begin_object();
        j.field("address", ch.vaddr);
        j.field("place", code_place(b, ch.vaddr));
        j.field("file_byte", static_cast<uint64_t>(ch.file_byte));
        j.field("memory_byte", static_cast<uint64_t>(ch.memory_byte));
        j.end();
      }
      j.end();
      j.end();
    }
  }
  j.field("path", r.path);
  j.field("go_version", b.buildinfo().version_string);
  j.field("arch", b.elf().arch_label());
  j.field("pie", f.pie);
  j.field("stripped", f.stripped);
  j.field("dwarf", f.dwarf);
  j.field("external_linking", f.external_linking);
  j.field("cgo", f.cgo);
  j.field("build_mode", f.build_mode);
  j.key("build_settings");
  j.begin_object();
  for (const auto& [k, v] : b.buildinfo().settings) j.field(k, v);
  j.end();
  j.key("pclntab");
  j.begin_object();
  j.field("format", format_name(b.pclntab().format()));
  j.field("functions", static_cast<uint64_t>(b.pclntab().function_count()));
  j.field("text_start", b.pclntab().text_start());
  j.end();

  j.key("offsets");
  j.begin_object();
  if (b.offsets()) {
    for (size_t i = 0; i < kRtFieldCount; ++i) {
      const FieldOffset& o = b.offsets()->fields[i];
      j.key(field_name(static_cast<RtField>(i)));
      j.begin_object();
      if (o.known())
        j.field("value", o.value);
      else
        j.key("value"), j.null();
      j.field("source", source_name(o.source));
      j.end();
    }
  }
  j.end();
  if (!b.offsets()) j.field("offsets_error", b.offsets().error().message);

  j.key("wait_reasons");
  j.begin_array();
  if (b.wait_reasons())
    for (const auto& n : b.wait_reasons()->names) j.value(n);
  j.end();
  j.field("wait_reasons_source", !b.wait_reasons()                                      ? "none"
                                 : b.wait_reasons()->source == WaitReasonSource::Binary ? "binary"
                                                                                        : "table");

  j.key("probes");
  j.begin_array();
  for (const auto& s : r.sites) {
    if (s.symbol.empty()) continue;
    j.begin_object();
    j.field("role", role_spec(s.role).id);
    j.field("function", s.symbol);
    j.field("address", s.function.entry);
    if (s.code.entry_site) {
      j.field("site_address", s.code.entry_site->address);
      j.field("site", site_kind_name(s.code.entry_site->kind));
      j.field("site_instruction", s.code.entry_site->text);
    } else {
      j.field("site", "none");
      j.field("site_error", s.code.no_entry_site_reason);
    }
    if (s.site_file_offset)
      j.field("file_offset", *s.site_file_offset);
    else
      j.key("file_offset"), j.null();
    j.field("first_instruction", s.code.first_instruction.text);
    j.field("rets", static_cast<uint64_t>(s.code.rets.size()));
    j.field("tail_jumps", static_cast<uint64_t>(s.code.tail_jumps.size()));
    j.end();
  }
  j.end();

  const HostFeatures& h = r.host;
  j.key("host");
  j.begin_object();
  j.field("kernel", h.kernel_release);
  j.field("root", h.root);
  j.field("cap_bpf", h.cap_bpf);
  j.field("cap_perfmon", h.cap_perfmon);
  j.field("btf", h.btf);
  j.field("uprobes", h.uprobes);
  if (h.ringbuf)
    j.field("ringbuf", *h.ringbuf);
  else
    j.key("ringbuf"), j.null();
  if (h.trap_ns_per_hit)
    j.field("trap_ns_per_hit", *h.trap_ns_per_hit);
  else
    j.key("trap_ns_per_hit"), j.null();
  if (h.uprobe_multi)
    j.field("uprobe_multi", *h.uprobe_multi);
  else
    j.key("uprobe_multi"), j.null();
  j.end();

  j.key("commands");
  j.begin_object();
  for (const auto& v : r.verdicts) {
    j.key(v.command);
    j.begin_object();
    j.field("can_run", v.can_run);
    j.key("reasons");
    j.begin_array();
    for (const auto& x : v.reasons) j.value(x);
    j.end();
    j.key("warnings");
    j.begin_array();
    for (const auto& x : v.warnings) j.value(x);
    j.end();
    j.end();
  }
  j.end();
  j.end();
}

}  // namespace gotrace
