// Strings the target controls (its comm, pprof label values, symbol and file
// names) reach text reports and status lines escaped, so that no terminal
// obeys them; JSON keeps them exact (escaped by JSON's own rules).
#include <fmt/format.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <sstream>
#include <string>

#include "gotrace/report/json_writer.h"
#include "gotrace/report/report_common.h"
#include "gotrace/util/text.h"
#include "support/fixtures.h"

using namespace gotrace;
using namespace gotrace::test;

namespace {

// What a terminal could act on: C0 controls but the newline, DEL, C1
// controls (U+0080–U+009F), and bytes that are not UTF-8.
std::string terminal_hazard(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = utf8_sequence_at(s, i);
    if (n == 0) return "invalid UTF-8 at " + std::to_string(i);
    if ((c < 0x20 && c != '\n') || c == 0x7f) return "control byte at " + std::to_string(i);
    if (n == 2 && c == 0xc2 && static_cast<unsigned char>(s[i + 1]) < 0xa0)
      return "C1 control at " + std::to_string(i);
    i += n;
  }
  return "";
}

// A comm a process can set for itself with prctl(PR_SET_NAME): a title
// change (OSC), a colour, a CSI as one C1 byte, an invalid byte.
const std::string kEvil =
    "x\x1b]0;pwned\x07\x1b[31m\xc2\x9b"
    "2J\xff";

}  // namespace

TEST_CASE("printable escapes C0, DEL, C1 controls and invalid UTF-8, keeps the rest", "[report][escape]") {
  CHECK(printable("caf\xc3\xa9 \xe2\x82\xac") == "caf\xc3\xa9 \xe2\x82\xac");
  CHECK(printable("a\x1b[1m\x7f") == "a\\x1b[1m\\x7f");
  CHECK(printable("\xc2\x9b"
                  "31m") == "\\xc2\\x9b31m");  // CSI as a C1 control
  CHECK(printable("\xc2\xa0") == "\xc2\xa0");  // U+00A0 is not a control
  CHECK(printable("a\nb") == "a\\x0ab");
  CHECK(terminal_hazard(printable(kEvil)).empty());
}

TEST_CASE("the text summary escapes the target's comm, JSON keeps it exact", "[report][escape]") {
  TraceSummary s;
  s.pid = 42;
  s.comm = kEvil;
  s.go_version = "go1.26.1";
  s.stopped_by = "Ctrl-C";
  s.notes.push_back("note from " + kEvil);
  std::ostringstream text;
  write_summary_text(s, text);
  INFO(text.str());
  CHECK(terminal_hazard(text.str()).empty());
  CHECK(text.str().find("PID 42 (x\\x1b]0;pwned\\x07\\x1b[31m\\xc2\\x9b2J\\xff)") != std::string::npos);

  std::ostringstream json;
  {
    JsonWriter j(json, false);
    j.begin_object();
    write_summary_json_fields(j, s);
    j.end();
  }
  // JSON's own escapes: \u001b and \u0007; the C1 control is valid UTF-8 and
  // JSON allows it as is; the invalid byte becomes U+FFFD.
  CHECK(json.str().find(R"("comm":"x\u001b]0;pwned\u0007\u001b[31m)"
                        "\xc2\x9b"
                        R"(2J\ufffd")") != std::string::npos);
}

TEST_CASE("a process that names itself with escapes is named escaped in every message", "[cli][escape]") {
  int ready[2];
  REQUIRE(pipe(ready) == 0);
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // What any process may do to the terminal of whoever looks at it.
    prctl(PR_SET_NAME, "\x1b]0;own\x07\x1b[2J", 0, 0, 0);
    char c = 1;
    (void)!write(ready[1], &c, 1);
    pause();
    _exit(0);
  }
  close(ready[1]);
  char c = 0;
  REQUIRE(read(ready[0], &c, 1) == 1);
  close(ready[0]);
  for (const char* cmd : {"goroutines", "goroutines --watch 100ms -d 200ms", "block -d 1s"}) {
    auto r = run_command(fmt::format("{} {} -p {} 2>&1", GOTRACE_BINARY, cmd, child));
    INFO(cmd << ": " << r.out);
    CHECK(r.status == 1);                                        // not a Go program
    CHECK(r.out.find("\\x1b]0;own\\x07") != std::string::npos);  // named, escaped
    CHECK(terminal_hazard(r.out).empty());
  }
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
}
