#include "io/das_selection.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "core/tensor.h"  // UsageError
#include "core/usage_error.h"
#include "io/das_time.h"

namespace dasnet {
namespace {

std::string trimmed(const std::string& text) {
  size_t b = 0, e = text.size();
  while (b < e && text[b] == ' ') ++b;
  while (e > b && text[e - 1] == ' ') --e;
  return text.substr(b, e - b);
}

std::optional<double> plain_number(const std::string& text) {
  double value = 0;
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc() || stop != end || !std::isfinite(value)) return std::nullopt;
  return value;
}

// "A<sep>B" into its two ends; exactly one separator.
std::pair<std::string, std::string> split_range(const std::string& text, char sep, const std::string& flag,
                                                const std::string& form) {
  const size_t at = text.find(sep);
  if (at == std::string::npos || text.find(sep, at + 1) != std::string::npos)
    throw UsageError(flag + " '" + text + "': expected " + form);
  return {trimmed(text.substr(0, at)), trimmed(text.substr(at + 1))};
}

std::optional<TimeBound> time_bound(const std::string& text, const std::string& whole) {
  if (text.empty()) return std::nullopt;
  if (auto seconds = plain_number(text)) return TimeBound{false, std::llround(*seconds * 1e9)};
  if (auto ns = parse_iso8601_ns(text)) return TimeBound{true, *ns};
  throw UsageError("--time '" + whole + "': '" + text +
                   "' is neither an ISO-8601 time (2023-05-24T12:34:56.5Z) nor seconds from the record start");
}

std::optional<double> distance_bound(const std::string& text, const std::string& whole) {
  if (text.empty()) return std::nullopt;
  if (auto metres = plain_number(text)) return metres;
  throw UsageError("--distance '" + whole + "': '" + text + "' is not a number of metres");
}

std::string seconds_text(double s) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g s", s);
  return buf;
}

// First index k >= 0 with first + k * step >= bound (bound given as an offset from the first
// value, in units of one step). A part-per-million slack keeps a bound typed as exactly a
// sample's time or a channel's distance on that sample or channel despite rounding.
int64_t first_index_at_or_after(double offset_in_steps) {
  return static_cast<int64_t>(std::ceil(offset_in_steps - 1e-6));
}

void resolve_time(const DasInfo& info, const ParsedSelection& sel, ReadWindow& window) {
  if (!sel.time_start && !sel.time_end) return;
  auto offset_ns = [&](const TimeBound& b) -> double {
    if (!b.absolute) return static_cast<double>(b.ns);
    if (!info.start_time_known)
      throw UsageError("--time: " + info.source + " stores no start time: give seconds from the record start");
    return static_cast<double>(b.ns - info.start_time_ns);
  };
  const double samples_per_ns = info.sampling_rate_hz / 1e9;
  const int64_t n = static_cast<int64_t>(info.num_samples);
  int64_t first = sel.time_start ? first_index_at_or_after(offset_ns(*sel.time_start) * samples_per_ns) : 0;
  int64_t end = sel.time_end ? first_index_at_or_after(offset_ns(*sel.time_end) * samples_per_ns) : n;
  first = std::max<int64_t>(first, 0);
  end = std::min(end, n);
  if (first >= end) {
    const std::string span = info.start_time_known
                                 ? format_iso8601_ns(info.start_time_ns) + " to " + format_iso8601_ns(info.end_time_ns())
                                 : "0 s to " + seconds_text((n - 1) / info.sampling_rate_hz);
    throw UsageError("--time selects no sample of " + info.source + " (its samples run from " + span + ")");
  }
  window.first_sample = static_cast<size_t>(first);
  window.num_samples = static_cast<size_t>(end - first);
}

void resolve_distance(const DasInfo& info, const ParsedSelection& sel, ReadWindow& window) {
  if (!sel.distance_start_m && !sel.distance_end_m) return;
  const double step = info.channel_spacing_m;
  if (!(step > 0))
    throw UsageError("--distance: " + info.source + " states no channel spacing, so distances cannot be selected");
  const int64_t n = static_cast<int64_t>(info.num_channels);
  auto index = [&](double metres) { return first_index_at_or_after((metres - info.distance_start_m) / step); };
  int64_t first = sel.distance_start_m ? std::max<int64_t>(index(*sel.distance_start_m), 0) : 0;
  int64_t end = sel.distance_end_m ? std::min(index(*sel.distance_end_m), n) : n;
  if (first >= end) {
    char span[128];
    std::snprintf(span, sizeof span, "%.6g m to %.6g m", info.distance_start_m,
                  info.distance_start_m + (n - 1) * step);
    throw UsageError("--distance selects no channel of " + info.source + " (its channels run from " + span + ")");
  }
  window.first_channel = static_cast<size_t>(first);
  window.num_channels = static_cast<size_t>(end - first);
}

}  // namespace

int64_t sample_offset_ns(size_t k, double rate_hz) {
  return static_cast<int64_t>(std::llroundl(static_cast<long double>(k) * 1e9L / static_cast<long double>(rate_hz)));
}

ParsedSelection parse_selection(const DasSelection& selection) {
  ParsedSelection parsed;
  if (!selection.time.empty()) {
    const auto [start, end] = split_range(selection.time, '/', "--time", "START/END (ISO times or seconds)");
    parsed.time_start = time_bound(start, selection.time);
    parsed.time_end = time_bound(end, selection.time);
    if (!parsed.time_start && !parsed.time_end) throw UsageError("--time '" + selection.time + "': both ends empty");
    if (parsed.time_start && parsed.time_end && parsed.time_start->absolute == parsed.time_end->absolute &&
        parsed.time_end->ns <= parsed.time_start->ns)
      throw UsageError("--time '" + selection.time + "': END must be after START");
  }
  if (!selection.distance.empty()) {
    const auto [start, end] = split_range(selection.distance, ':', "--distance", "A:B (metres)");
    parsed.distance_start_m = distance_bound(start, selection.distance);
    parsed.distance_end_m = distance_bound(end, selection.distance);
    if (!parsed.distance_start_m && !parsed.distance_end_m)
      throw UsageError("--distance '" + selection.distance + "': both ends empty");
    if (parsed.distance_start_m && parsed.distance_end_m && *parsed.distance_end_m <= *parsed.distance_start_m)
      throw UsageError("--distance '" + selection.distance + "': B must be greater than A");
  }
  return parsed;
}

ReadWindow resolve_selection(const DasInfo& info, const ParsedSelection& selection) {
  ReadWindow window;
  window.record = info.record_index;
  window.num_channels = info.num_channels;
  window.num_samples = info.num_samples;
  resolve_time(info, selection, window);
  resolve_distance(info, selection, window);
  return window;
}

DasInfo window_info(const DasInfo& info, const ReadWindow& window) {
  DasInfo out = info;
  const size_t channels = std::min(window.num_channels, info.num_channels - window.first_channel);
  const size_t samples = std::min(window.num_samples, info.num_samples - window.first_sample);
  out.num_channels = channels;
  out.num_samples = samples;
  out.start_time_ns = info.start_time_ns + sample_offset_ns(window.first_sample, info.sampling_rate_hz);
  out.distance_start_m = info.distance_start_m + window.first_channel * info.channel_spacing_m;
  out.first_locus = info.first_locus + static_cast<int64_t>(window.first_channel * info.channel_step);
  return out;
}

}  // namespace dasnet
