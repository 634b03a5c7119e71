// fmt, compiled into joulebench from Debian's libfmt-dev headers.
//
// Why this file exists: joulebench links its dependencies in (CMakeLists.txt, "How the
// dependencies are linked") so that `joulebench measure` starts fast. Debian ships fmt as
// libfmt.so plus headers, but no libfmt.a. fmt supports two ways of being linked in: its
// header-only mode (FMT_HEADER_ONLY), which recompiles the formatting core in every translation
// unit that includes fmt (measured: +3.2 s of compile time per file, about 70 files), or compiling
// its one source file, src/format.cc, into the program, which is what this file is. It is
// format.cc of fmt 9.1 (Debian 12's version): the library's implementation comes from
// <fmt/format-inl.h>; the explicit instantiations below are the ones format.cc makes. A
// different fmt version with other instantiations fails at link time (undefined references),
// never silently; the static_assert names the version this was written for.

#include <fmt/format-inl.h>

static_assert(FMT_VERSION / 100 == 901, "deps/fmt_library.cpp mirrors fmt 9.1's src/format.cc: check it against this fmt version");

FMT_BEGIN_NAMESPACE
namespace detail {

template FMT_API auto dragonbox::to_decimal(float x) noexcept -> dragonbox::decimal_fp<float>;
template FMT_API auto dragonbox::to_decimal(double x) noexcept -> dragonbox::decimal_fp<double>;

#ifndef FMT_STATIC_THOUSANDS_SEPARATOR
template FMT_API locale_ref::locale_ref(const std::locale& loc);
template FMT_API auto locale_ref::get<std::locale>() const -> std::locale;
#endif

// Explicit instantiations for char.
template FMT_API auto thousands_sep_impl(locale_ref) -> thousands_sep_result<char>;
template FMT_API auto decimal_point_impl(locale_ref) -> char;
template FMT_API void buffer<char>::append(const char*, const char*);
template FMT_API void vformat_to(buffer<char>&, string_view, basic_format_args<FMT_BUFFER_CONTEXT(char)>, locale_ref);

// Explicit instantiations for wchar_t.
template FMT_API auto thousands_sep_impl(locale_ref) -> thousands_sep_result<wchar_t>;
template FMT_API auto decimal_point_impl(locale_ref) -> wchar_t;
template FMT_API void buffer<wchar_t>::append(const wchar_t*, const wchar_t*);

}  // namespace detail
FMT_END_NAMESPACE
