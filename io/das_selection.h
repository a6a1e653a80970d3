// --time and --distance, the one way every command selects part of a DAS record: the flags'
// text is parsed here and turned into a ReadWindow of channel and sample indices.
//
//   --time START/END    each end an ISO-8601 time (UTC unless it names a zone) or seconds from
//                       the record's first sample ("10.5"); either end may be left out ("/60").
//   --distance A:B      metres along the fibre, as the record states distances; either end may
//                       be left out ("100:").
//
// Both select the half-open range [START, END) / [A, B): the samples at times >= START and
// < END, the channels at distances >= A and < B, so "0/10" and "10/20" tile a record without
// sharing a sample. A range that reaches past the record is cut to it; one that holds no sample
// or channel of the record is a usage error naming the flag and the record's extent.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "core/usage_error.h"
#include "io/das_formats.h"

namespace dasnet {

// The two flags as typed (empty: the whole axis).
struct DasSelection {
  std::string time;      // --time START/END
  std::string distance;  // --distance A:B
  bool empty() const { return time.empty() && distance.empty(); }
};

// One end of --time: absolute UTC nanoseconds, or nanoseconds after the record's first sample.
struct TimeBound {
  bool absolute = false;
  int64_t ns = 0;
};

// The parsed flags, still independent of any record (so a folder's files share one parse).
struct ParsedSelection {
  std::optional<TimeBound> time_start, time_end;
  std::optional<double> distance_start_m, distance_end_m;
};

// Throws UsageError naming --time or --distance when the text is not of the forms above.
ParsedSelection parse_selection(const DasSelection& selection);

// The channels and samples of `info`'s record that `selection` picks (record = info's record).
// Throws UsageError naming the flag when the range misses the record, or when --time gives an
// ISO time for a record whose start time is unknown.
ReadWindow resolve_selection(const DasInfo& info, const ParsedSelection& selection);

// Nanoseconds from the first sample to sample k at `rate_hz`, rounded once (long double, so
// exact to the nanosecond for a day of samples at any rate).
int64_t sample_offset_ns(size_t k, double rate_hz);

// `info` narrowed to `window`: shape, start time, distance start and first locus of the window.
DasInfo window_info(const DasInfo& info, const ReadWindow& window);

}  // namespace dasnet
