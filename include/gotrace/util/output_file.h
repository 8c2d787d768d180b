// Output files written whole or not at all, and standard streams that are
// never closed.
#pragma once

#include <string>
#include <string_view>

#include "gotrace/util/result.h"

namespace gotrace {

// Whether path could be written by write_file_replacing later, without
// touching it: its directory takes a new file (one is created and removed),
// and an existing path is writable and not a directory (a writable file in a
// directory that takes no new file will be written in place). The reason,
// from errno, when not.
Result<void> check_replaceable(const std::string& path);

// Writes content to path as a whole: into a temporary file in the same
// directory, renamed over path once every byte is written and the file
// closed; on any failure the temporary file is removed and an existing path
// is left as it was. A path that exists and is not a regular file (a FIFO,
// /dev/stdout), or a writable file in a directory that takes no new file, is
// written in place; a symbolic link is followed (the file it names is
// replaced). A new file gets mode 0666 minus the umask, a
// replaced one keeps its mode.
Result<void> write_file_replacing(const std::string& path, std::string_view content);

// Opens /dev/null (read-only: writes to it fail with EBADF) on whichever of
// fds 0, 1 and 2 are closed, so that no file opened later takes their place
// (an --svg opened as fd 1 received the text report).
void reserve_standard_fds();

}  // namespace gotrace
