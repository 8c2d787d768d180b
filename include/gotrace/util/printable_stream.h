// Text reports made safe for a terminal as they are written: every byte
// goes through the rules of printable() (util/text.h), newlines kept.
#pragma once

#include <ostream>
#include <streambuf>
#include <string>
#include <string_view>

namespace gotrace {

// s as printable() writes it, but '\n' kept: multi-line text.
std::string printable_lines(std::string_view s);

// An ostream over another whose bytes are passed through printable() on the
// way, newlines kept: the text writers write through one, so no string from
// the target (its comm, pprof labels, symbol and file names) can reach a
// terminal as an escape sequence. UTF-8 sequences split between writes are
// held until complete; whatever is held is written at the end (escaped if
// it never completed). Write errors show on the stream below.
class PrintableOStream : public std::ostream {
 public:
  explicit PrintableOStream(std::ostream& below);
  ~PrintableOStream() override;
  PrintableOStream(const PrintableOStream&) = delete;
  PrintableOStream& operator=(const PrintableOStream&) = delete;

 private:
  class Buf : public std::streambuf {
   public:
    explicit Buf(std::ostream& below) : below_(below) {}
    void finish();

   protected:
    int_type overflow(int_type c) override;
    std::streamsize xsputn(const char* s, std::streamsize n) override;
    int sync() override;

   private:
    void put(std::string_view s);
    std::ostream& below_;
    std::string held_;  // the start of a UTF-8 sequence not yet complete
  };
  Buf buf_;
};

}  // namespace gotrace
