// Result<T>: a value or an error message, returned across module boundaries
// instead of throwing. Error messages are complete sentences a user can read:
// what failed, why, and what to do where that is known. They often quote
// the input (a path, a version string from the binary): control characters
// and invalid UTF-8 in it are written as \xNN, so a message stays one line
// and cannot drive the terminal.
#pragma once

#include <fmt/format.h>

#include <string>
#include <utility>
#include <variant>

#include "gotrace/util/text.h"

namespace gotrace {

struct Error {
  Error() = default;
  explicit Error(std::string_view m) : message(printable(m)) {}
  std::string message;
};

template <typename... Args>
Error make_error(fmt::format_string<Args...> format, Args&&... args) {
  return Error(fmt::format(format, std::forward<Args>(args)...));
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { return std::get<1>(v_); }
  // Prefixes the error with context ("reading .gopclntab: ...").
  Result&& context(std::string_view what) && {
    if (!ok()) std::get<1>(v_).message = printable(fmt::format("{}: {}", what, std::get<1>(v_).message));
    return std::move(*this);
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

}  // namespace gotrace
