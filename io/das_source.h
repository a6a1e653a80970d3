// What commands read records from: one record of a file, a window of it (--time, --distance,
// io/das_selection.h), or files that follow each other without a gap read as one continuous
// record (a folder of one-minute files). Readers of io/das_formats.h do the reading; a source
// only maps its own channel and sample indices onto the files it spans.
//
// Folders and file lists: order_series() sorts files by start time and finds the breaks
// between them: a gap (samples missing) or an overlap (samples recorded twice). A break
// starts a new segment; each segment is one DasSource, so nothing that reads a source (patch
// grids, inference windows, conversion) ever spans a break.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "io/das_formats.h"
#include "io/das_selection.h"

namespace dasnet {

class DasSource {
 public:
  // All of record `record` of the file at `path`.
  static DasSource file(const std::string& path, size_t record = 0);
  // The files of `infos` (one record each, in order) as one record; the caller checked that
  // they follow each other (order_series).
  static DasSource contiguous(const std::vector<DasInfo>& infos);

  // This source narrowed to `window` (indices relative to this source).
  DasSource narrowed(const ReadWindow& window) const;
  // Narrowed to what --time and --distance select (no change when both are empty).
  DasSource selected(const ParsedSelection& selection) const;

  // Shape, start time, distance start, ... of the source as a whole; `source` names the file,
  // or "FIRST .. LAST (N files)" for several.
  const DasInfo& info() const { return info_; }
  const std::string& name() const { return info_.source; }
  size_t file_count() const { return parts_.size(); }
  std::vector<std::string> files() const;

  // Reads `window` (indices relative to this source) as float32 channels x time.
  DasRecord read(const ReadWindow& window = {}) const;

  // Where sample `sample` and channel `channel` of this source are stored.
  struct Location {
    std::string path;
    size_t channel = 0, sample = 0;  // in that file
  };
  Location locate(size_t channel, size_t sample) const;

 private:
  struct Part {
    std::string path;
    size_t record = 0;
    size_t first_sample = 0;  // in the file
    size_t num_samples = 0;   // of the file, from first_sample
  };
  std::vector<Part> parts_;
  size_t first_channel_ = 0;  // in the files
  DasInfo info_;
};

// Why two files that follow each other in start time are not one record: a gap (gap_ns > 0:
// time with no samples), an overlap (gap_ns < 0: time recorded twice), or a different layout
// (`layout` says what differs: channels, rate, spacing, distance start, dtype, or no start time).
struct SeriesBreak {
  std::string before, after;  // the two files
  int64_t gap_ns = 0;         // after's first sample - (before's last sample + one step)
  std::string layout;         // "" for a gap or an overlap
  bool is_gap() const { return layout.empty() && gap_ns > 0; }
  bool is_overlap() const { return layout.empty() && gap_ns < 0; }
  std::string describe() const;  // "gap of 1.5 s between A and B"
};

struct DasSeries {
  std::vector<DasSource> segments;   // continuous runs of files, in time order
  std::vector<SeriesBreak> breaks;   // between segment k and k + 1
  std::vector<std::string> unreadable;  // "FILE: why" for files the readers refused (left out)
  size_t file_count = 0;                // files given, readable or not
};

// The DAS files `inputs` name: a folder stands for the regular files in it (names starting
// with '.' skipped), in name order; files are kept as given. Throws naming an input that is
// neither, or a folder that holds no file.
std::vector<std::string> expand_das_inputs(const std::vector<std::string>& inputs);

// Reads the metadata of `paths`, orders them by start time and splits them into segments at
// every gap, overlap or change of layout (a file whose first sample is within 1% of a step of
// where the run before it ends continues it). Files that store no start time are segments of
// their own, after the others; files the readers refuse are listed in `unreadable`, so one bad
// file of thousands does not stop the rest.
DasSeries order_series(const std::vector<std::string>& paths);

}  // namespace dasnet
