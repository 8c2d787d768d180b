// fmt, compiled once. Debian ships fmt as a shared library only, and gotrace
// links everything but glibc statically, so it used fmt header-only: every
// file then compiled fmt's formatting core again, which under the sanitizers
// cost the CI build several seconds per file (about a third of some files'
// compile time). Here the core is compiled once, and every other file sees
// only the declarations.
#include <fmt/format-inl.h>

#include <locale>

FMT_BEGIN_NAMESPACE
namespace detail {

// The templates format.h declares and format-inl.h defines: the shortest
// round-trip float conversion, and the locale hooks of the 'L' specifier.
template auto dragonbox::to_decimal(float x) noexcept -> dragonbox::decimal_fp<float>;
template auto dragonbox::to_decimal(double x) noexcept -> dragonbox::decimal_fp<double>;
template locale_ref::locale_ref(const std::locale& loc);
template auto locale_ref::get<std::locale>() const -> std::locale;
template auto thousands_sep_impl(locale_ref) -> thousands_sep_result<char>;
template auto decimal_point_impl(locale_ref) -> char;

}  // namespace detail
FMT_END_NAMESPACE
