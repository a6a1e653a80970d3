#include "io/das_source.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "io/das_time.h"
#include "io/input_path.h"

namespace dasnet {

namespace fs = std::filesystem;

DasSource DasSource::file(const std::string& path, size_t record) {
  return contiguous({inspect_das(path, record)});
}

DasSource DasSource::contiguous(const std::vector<DasInfo>& infos) {
  if (infos.empty()) throw std::invalid_argument("DasSource::contiguous: no files");
  DasSource source;
  source.info_ = infos.front();
  source.info_.num_samples = 0;
  for (const DasInfo& info : infos) {
    source.parts_.push_back({info.source, info.record_index, 0, info.num_samples});
    source.info_.num_samples += info.num_samples;
  }
  if (infos.size() > 1)
    source.info_.source = infos.front().source + " .. " + infos.back().source + " (" + std::to_string(infos.size()) +
                          " files)";
  return source;
}

std::vector<std::string> DasSource::files() const {
  std::vector<std::string> paths;
  for (const Part& part : parts_) paths.push_back(part.path);
  return paths;
}

DasSource DasSource::narrowed(const ReadWindow& window) const {
  const size_t first = std::min(window.first_sample, info_.num_samples);
  const size_t count = std::min(window.num_samples, info_.num_samples - first);
  const size_t first_ch = std::min(window.first_channel, info_.num_channels);
  const size_t channels = std::min(window.num_channels, info_.num_channels - first_ch);
  DasSource out;
  out.info_ = window_info(info_, ReadWindow{first_ch, channels, first, count, info_.record_index});
  out.info_.source = info_.source;
  out.first_channel_ = first_channel_ + first_ch;
  size_t part_start = 0;  // of the part within this source
  for (const Part& part : parts_) {
    const size_t begin = std::max(first, part_start), end = std::min(first + count, part_start + part.num_samples);
    if (begin < end) out.parts_.push_back({part.path, part.record, part.first_sample + (begin - part_start), end - begin});
    part_start += part.num_samples;
  }
  return out;
}

DasSource DasSource::selected(const ParsedSelection& selection) const {
  if (!selection.time_start && !selection.time_end && !selection.distance_start_m && !selection.distance_end_m)
    return *this;
  return narrowed(resolve_selection(info_, selection));
}

DasRecord DasSource::read(const ReadWindow& window) const {
  const size_t first = std::min(window.first_sample, info_.num_samples);
  const size_t count = std::min(window.num_samples, info_.num_samples - first);
  const size_t first_ch = std::min(window.first_channel, info_.num_channels);
  const size_t channels = std::min(window.num_channels, info_.num_channels - first_ch);
  std::vector<std::pair<const Part*, ReadWindow>> pieces;  // file windows, in time order
  size_t part_start = 0;
  for (const Part& part : parts_) {
    const size_t begin = std::max(first, part_start), end = std::min(first + count, part_start + part.num_samples);
    if (begin < end)
      pieces.push_back({&part, ReadWindow{first_channel_ + first_ch, channels, part.first_sample + (begin - part_start),
                                          end - begin, part.record}});
    part_start += part.num_samples;
  }
  if (pieces.size() == 1) return read_das(pieces[0].first->path, pieces[0].second);
  DasRecord out;
  size_t done = 0;
  for (const auto& [part, file_window] : pieces) {
    DasRecord piece = read_das(part->path, file_window);
    if (done == 0) {
      out = piece;
      out.data.assign(channels * count, 0.0f);
      out.num_samples = count;
      out.non_finite_count = 0;
      out.non_finite_channel_count = 0;  // not known across files; the count of samples is
      out.source = info_.source;
    }
    for (size_t ch = 0; ch < channels; ++ch)
      std::copy_n(piece.data.data() + ch * piece.num_samples, piece.num_samples, out.data.data() + ch * count + done);
    out.non_finite_count += piece.non_finite_count;
    done += piece.num_samples;
  }
  return out;
}

DasSource::Location DasSource::locate(size_t channel, size_t sample) const {
  size_t part_start = 0;
  for (const Part& part : parts_) {
    if (sample < part_start + part.num_samples)
      return {part.path, first_channel_ + channel, part.first_sample + (sample - part_start)};
    part_start += part.num_samples;
  }
  throw std::out_of_range(info_.source + ": sample " + std::to_string(sample) + " is past the record's end");
}

// ---- series ----------------------------------------------------------------------------

std::string SeriesBreak::describe() const {
  if (!layout.empty()) return after + " does not continue " + before + " (" + layout + ")";
  char amount[64];
  std::snprintf(amount, sizeof amount, "%.9g s", std::fabs(static_cast<double>(gap_ns)) / 1e9);
  return std::string(gap_ns > 0 ? "gap of " : "overlap of ") + amount + " between " + before + " and " + after;
}

std::vector<std::string> expand_das_inputs(const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const std::string& input : inputs) {
    require_input_path(input, InputKind::file_or_folder);
    if (!fs::is_directory(input)) {
      files.push_back(input);
      continue;
    }
    std::vector<std::string> inside;
    for (const auto& entry : fs::directory_iterator(input))
      if (entry.is_regular_file() && entry.path().filename().string()[0] != '.') inside.push_back(entry.path().string());
    if (inside.empty()) throw std::runtime_error(input + ": a directory holding no file (a folder is read as its DAS files)");
    std::sort(inside.begin(), inside.end());
    files.insert(files.end(), inside.begin(), inside.end());
  }
  return files;
}

namespace {

// What keeps `b` from continuing `a` ("" when nothing does).
std::string layout_change(const DasInfo& a, const DasInfo& b) {
  auto differ = [](double x, double y) { return std::fabs(x - y) > 1e-9 * std::max(1.0, std::fabs(x)); };
  if (a.num_channels != b.num_channels)
    return "channels differ: " + std::to_string(a.num_channels) + " and " + std::to_string(b.num_channels);
  if (differ(a.sampling_rate_hz, b.sampling_rate_hz)) return "sampling rates differ";
  if (differ(a.channel_spacing_m, b.channel_spacing_m)) return "channel spacings differ";
  if (differ(a.distance_start_m, b.distance_start_m)) return "distance starts differ";
  if (a.raw_type != b.raw_type || a.scale_factor != b.scale_factor) return "sample types or scales differ";
  return "";
}

}  // namespace

DasSeries order_series(const std::vector<std::string>& paths) {
  DasSeries series;
  series.file_count = paths.size();
  std::vector<DasInfo> timed, untimed;
  for (const std::string& path : paths) {
    try {
      DasInfo info = inspect_das(path);
      (info.start_time_known ? timed : untimed).push_back(std::move(info));
    } catch (const std::runtime_error& e) {
      const std::string what = e.what();
      series.unreadable.push_back(what.find(path) == std::string::npos ? path + ": " + what : what);
    }
  }
  std::stable_sort(timed.begin(), timed.end(),
                   [](const DasInfo& a, const DasInfo& b) { return a.start_time_ns < b.start_time_ns; });
  std::vector<DasInfo> run;
  size_t run_samples = 0;
  auto close_run = [&](SeriesBreak why) {
    if (!run.empty()) series.segments.push_back(DasSource::contiguous(run));
    if (!run.empty()) series.breaks.push_back(std::move(why));
    run.clear();
    run_samples = 0;
  };
  for (const DasInfo& info : timed) {
    if (!run.empty()) {
      // Measured from the run's first file, so small offsets cannot add up along a long run.
      const DasInfo& first = run.front();
      const int64_t expected = first.start_time_ns + sample_offset_ns(run_samples, first.sampling_rate_hz);
      SeriesBreak why{run.back().source, info.source, info.start_time_ns - expected, layout_change(run.back(), info)};
      if (!why.layout.empty() || std::fabs(static_cast<double>(why.gap_ns)) > 0.01 * 1e9 / first.sampling_rate_hz)
        close_run(why);
    }
    run.push_back(info);
    run_samples += info.num_samples;
  }
  for (const DasInfo& info : untimed) {
    close_run({run.empty() ? "" : run.back().source, info.source, 0, "no start time: cannot be placed in time"});
    run.push_back(info);
  }
  if (!run.empty()) series.segments.push_back(DasSource::contiguous(run));
  return series;
}

}  // namespace dasnet
