// DWARF helpers shared by the runtime-offset readers (see dwarf_structs.h).
#include "dwarf_structs.h"

#include <dwarf.h>

namespace gotrace::detail {

// Line, frame, location and range tables are left out, which spares
// decompressing them (most of the debug data).
bool needed_debug_section(std::string_view name) {
  if (name.starts_with(".zdebug_"))
    name.remove_prefix(8);
  else if (name.starts_with(".debug_"))
    name.remove_prefix(7);
  else
    return false;
  return name == "info" || name == "abbrev" || name == "str" || name == "str_offsets" || name == "line_str" ||
         name == "addr";
}

// A member's constant DW_AT_data_member_location (or the DWARF 2 form
// DW_OP_plus_uconst N); -1 when it has neither.
int64_t member_location(Dwarf_Die* member) {
  Dwarf_Attribute attr;
  if (!dwarf_attr(member, DW_AT_data_member_location, &attr)) return -1;
  Dwarf_Word value = 0;
  if (dwarf_formudata(&attr, &value) == 0) return value > (1u << 30) ? -1 : static_cast<int64_t>(value);
  Dwarf_Op* ops = nullptr;
  size_t nops = 0;
  if (dwarf_getlocation(&attr, &ops, &nops) == 0 && nops == 1 && ops[0].atom == DW_OP_plus_uconst)
    return ops[0].number > (1u << 30) ? -1 : static_cast<int64_t>(ops[0].number);
  return -1;
}

// The member `name` of struct `st`: its offset and, if `type_out` is given,
// its type with typedefs and qualifiers peeled off. -1 when absent.
int64_t find_member(Dwarf_Die* st, std::string_view name, Dwarf_Die* type_out) {
  Dwarf_Die child;
  if (dwarf_child(st, &child) != 0) return -1;
  do {
    if (dwarf_tag(&child) != DW_TAG_member) continue;
    const char* n = dwarf_diename(&child);
    if (!n || name != n) continue;
    int64_t off = member_location(&child);
    if (type_out) {
      Dwarf_Attribute attr;
      Dwarf_Die type;
      if (!dwarf_attr(&child, DW_AT_type, &attr) || !dwarf_formref_die(&attr, &type) ||
          dwarf_peel_type(&type, type_out) != 0)
        return -1;
    }
    return off;
  } while (dwarf_siblingof(&child, &child) == 0);
  return -1;
}

// nested.field inside st: offset(st.outer) + offset(outer's type.inner).
int64_t find_nested(Dwarf_Die* st, std::string_view outer, std::string_view inner) {
  Dwarf_Die type;
  int64_t base = find_member(st, outer, &type);
  if (base < 0 || dwarf_tag(&type) != DW_TAG_structure_type) return -1;
  int64_t off = find_member(&type, inner);
  return off < 0 ? -1 : base + off;
}

namespace {
// Looks at the top-level DIEs of one unit for the wanted structs.
void scan_unit(Dwarf_Die* cudie, std::vector<Wanted>& wanted, size_t& remaining) {
  Dwarf_Die die;
  if (dwarf_child(cudie, &die) != 0) return;
  do {
    if (dwarf_tag(&die) != DW_TAG_structure_type) continue;
    const char* n = dwarf_diename(&die);
    if (!n || std::strncmp(n, "runtime.", 8) != 0) continue;
    for (auto& w : wanted) {
      if (!w.found && std::strcmp(n, w.name) == 0 && !dwarf_hasattr(&die, DW_AT_declaration)) {
        w.found = true;
        w.die = die;
        --remaining;
        break;
      }
    }
  } while (remaining > 0 && dwarf_siblingof(&die, &die) == 0);
}
}  // namespace

void find_runtime_structs(Dwarf* dwarf, std::vector<Wanted>& wanted, const std::function<bool()>& enough) {
  size_t remaining = 0;
  for (const auto& w : wanted) remaining += !w.found;
  for (int pass = 0; pass < 2 && remaining > 0; ++pass) {
    if (pass == 1 && enough()) break;
    Dwarf_CU* cu = nullptr;
    Dwarf_CU* next = nullptr;
    Dwarf_Half version = 0;
    uint8_t unit_type = 0;
    Dwarf_Die cudie;
    size_t units = 0;
    while (remaining > 0 && dwarf_get_units(dwarf, cu, &next, &version, &unit_type, &cudie, nullptr) == 0) {
      cu = next;
      if (++units > 1000000) break;  // corrupt unit chain
      if (dwarf_tag(&cudie) != DW_TAG_compile_unit && dwarf_tag(&cudie) != DW_TAG_partial_unit) continue;
      const char* name = dwarf_diename(&cudie);
      bool is_runtime = name && std::strcmp(name, "runtime") == 0;
      if (pass == 0 ? !is_runtime : is_runtime) continue;
      scan_unit(&cudie, wanted, remaining);
    }
  }
}

}  // namespace gotrace::detail
