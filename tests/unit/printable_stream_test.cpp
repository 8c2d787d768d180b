// The escaping stream the text writers write through (util/printable_stream.h).
#include "gotrace/util/printable_stream.h"

#include <catch2/catch.hpp>
#include <sstream>

using namespace gotrace;

TEST_CASE("printable_lines keeps newlines and escapes the rest as printable does", "[report][escape]") {
  CHECK(printable_lines("a\nb\x1b[1m\xc2\x9b") == "a\nb\\x1b[1m\\xc2\\x9b");
}

TEST_CASE("the escaping stream keeps UTF-8 split between writes whole", "[report][escape]") {
  std::ostringstream below;
  {
    PrintableOStream out(below);
    out << "\xe2";
    out << "\x82\xac and \xc3";
    out << "\xa9\n";
    out << "cut \xe2\x82";  // never completed: escaped at the end
  }
  CHECK(below.str() == "\xe2\x82\xac and \xc3\xa9\ncut \\xe2\\x82");
  std::ostringstream failing;
  failing.setstate(std::ios::badbit);
  {
    PrintableOStream out(failing);
    out << "text\n";
    out.flush();
  }
  CHECK(failing.fail());  // a write error shows on the stream below
}
