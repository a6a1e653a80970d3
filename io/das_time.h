// UTC time stamps as DAS files write them, to and from nanoseconds since the Unix epoch.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace dasnet {

// "2023-05-01T12:34:56.123456789Z", "...+02:00", "... 12:34:56" (space separator) or a date
// alone. No zone means UTC. nullopt when the text is not such a time.
std::optional<int64_t> parse_iso8601_ns(const std::string& text);

// Day-first stamps as Silixa writes them: "20/06/2023 12:34:56.123 (UTC)" or with '-' or '.'
// between the date fields.
std::optional<int64_t> parse_day_first_ns(const std::string& text);

// Either of the above, ISO first.
std::optional<int64_t> parse_time_ns(const std::string& text);

// Seconds since the epoch as a double (posix_time datasets) to integer nanoseconds, rounded to
// whole microseconds (all a double resolves at present-day epochs).
int64_t seconds_to_ns(double seconds);

// How format_iso8601_ns writes the fraction of a second and the zone.
enum class IsoStyle {
  compact,  // "2023-05-01T12:34:56.123456789Z": fraction trimmed of trailing zeros, kept to the ns
  prodml,   // "2023-05-01T12:34:56.123456+00:00": always six digits (truncated), as PRODML writes
};

// UTC time stamp of nanoseconds since the Unix epoch.
std::string format_iso8601_ns(int64_t ns, IsoStyle style = IsoStyle::compact);

}  // namespace dasnet
