// Checks of numeric flag values, declared once for every command. CLI11 converts "-1" into a huge
// unsigned value and accepts "inf" and "nan" for floating-point flags; these validators read the
// value's text before it is converted and refuse it with a message that names the flag (exit 2).
// Use: app->add_option("--per-class", n, "...")->check(flag_checks::non_negative);
#pragma once
#include <CLI/CLI.hpp>
#include <charconv>
#include <cmath>
#include <string>

#include "core/tensor.h"  // UsageError
#include "core/usage_error.h"

namespace dasnet::flag_checks {

namespace detail {
template <class Accept>
CLI::Validator number(const std::string& description, const std::string& requirement, Accept accept) {
  return CLI::Validator(
      [requirement, accept](std::string& text) -> std::string {
        double value = 0;
        if (!CLI::detail::lexical_cast(text, value)) return "expected a number, got '" + text + "'";
        return std::isfinite(value) && accept(value) ? std::string() : requirement + ", got " + text;
      },
      description);
}
}  // namespace detail

inline const CLI::Validator finite = detail::number("FINITE", "must be a finite number", [](double) { return true; });
inline const CLI::Validator non_negative = detail::number("NONNEGATIVE", "must be a finite number >= 0",
                                                          [](double v) { return v >= 0; });
inline const CLI::Validator positive = detail::number("POSITIVE", "must be a finite number > 0",
                                                      [](double v) { return v > 0; });

// A whole-number piece of a flag's value (as in --pick NAME=FILE:CHANNEL:SAMPLE): digits only, so
// "-1" is refused instead of wrapping to 2^64 - 1 as std::stoull does.
inline size_t parse_count(const std::string& text, const std::string& what) {
  size_t value = 0;
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc() || stop != end)
    throw UsageError(what + " must be a whole number >= 0, got '" + text + "'");
  return value;
}

}  // namespace dasnet::flag_checks
