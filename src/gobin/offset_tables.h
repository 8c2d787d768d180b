// Internal: gotrace's built-in runtime struct offsets per Go minor version
// (runtime_offsets.cpp turns a row into a RuntimeOffsets).
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "gotrace/gobin/runtime_offsets.h"

namespace gotrace::detail {

using OffsetRow = std::array<int64_t, kRtFieldCount>;  // -1: field absent in that version

// The row for Go 1.<minor> (linux/amd64 and linux/arm64 share it), or nullopt
// outside the versions the table covers.
std::optional<OffsetRow> offset_table_row(int minor);

}  // namespace gotrace::detail
