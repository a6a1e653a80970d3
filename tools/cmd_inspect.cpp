// dasnet inspect FILE|DIR...: what a DAS file holds (format, shape, times, rates, units, dtype),
// read from the metadata only; --json for scripts, --image for a quick-look picture; --time
// and --distance show the window they select. A folder is shown as the continuous records its
// files make (io/das_source.h) with the gaps and overlaps between them.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "core/usage_error.h"
#include "io/das_formats.h"
#include "io/das_info_json.h"
#include "io/das_quicklook.h"
#include "io/das_source.h"
#include "io/das_time.h"
#include "tools/commands.h"
#include "tools/selection_flags.h"

namespace dasnet {
namespace {

std::string number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.10g", v);
  return buf;
}

std::string metres(double v) { return v > 0 ? number(v) + " m" : "unknown"; }

// "m" or "ft" as the file states distances, or that it gives channel numbers only.
std::string distance_note(const DasInfo& info) {
  return info.distance_units.empty() ? " (channel numbers only: the file states no distances)"
                                     : " (file states " + info.distance_units + ")";
}

std::string describe(const DasInfo& info) {
  std::ostringstream out;
  out << info.source << "\n"
      << "  format:          " << info.format << (info.format_version.empty() ? "" : " " + info.format_version) << "\n";
  if (info.record_count > 1 || !info.record_name.empty())
    out << "  record:          " << info.record_index << " of " << info.record_count
        << (info.record_name.empty() ? "" : " (" + info.record_name + ")") << "\n";
  out << "  product:         " << (info.processed ? "processed: " + info.product : "raw") << "\n"
      << "  shape:           " << info.num_channels << " channels x " << info.num_samples << " samples (stored "
      << info.stored_order << " at " << info.data_path << ")\n";
  if (info.start_time_known) {
    out << "  start:           " << format_iso8601_ns(info.start_time_ns) << "\n"
        << "  end:             " << format_iso8601_ns(info.end_time_ns()) << " (last sample)\n";
  } else {
    out << "  start:           unknown (the format stores no start time)\n";
  }
  out << "  duration:        " << number(info.duration_s()) << " s\n"
      << "  sampling rate:   " << number(info.sampling_rate_hz) << " Hz\n"
      << "  channel spacing: " << metres(info.channel_spacing_m) << distance_note(info) << "\n"
      << "  channels:        loci " << info.first_locus << ", step " << info.channel_step << "\n"
      << "  distance start:  " << number(info.distance_start_m) << " m\n"
      << "  gauge length:    " << metres(info.gauge_length_m) << "\n"
      << "  units:           " << info.units << (info.scale_factor != 1.0 ? " (raw x " + number(info.scale_factor) + ")" : "")
      << (info.scale_stated ? " (scale stated by the file)" : "") << "\n"
      << "  dtype:           " << info.raw_type << "\n";
  return out.str();
}

// Reads the record's samples: NaN/Inf samples and channels with no finite sample.
void add_value_counts(const DasSource& source, nlohmann::json& j, std::string& text) {
  const DasRecord rec = source.read();
  j["non_finite_samples"] = rec.non_finite_count;
  j["non_finite_channels"] = rec.non_finite_channel_count;
  text += "  NaN/Inf:         " + std::to_string(rec.non_finite_count) + " samples, " +
          std::to_string(rec.non_finite_channel_count) + " channels with no finite sample\n";
}

nlohmann::json break_json(const SeriesBreak& b) {
  return {{"before", b.before}, {"after", b.after},
          {"kind", !b.layout.empty() ? "layout" : b.gap_ns > 0 ? "gap" : "overlap"},
          {"seconds", std::fabs(static_cast<double>(b.gap_ns)) / 1e9}, {"reason", b.layout}};
}

struct InspectCommand {
  std::vector<std::string> files;
  bool json = false;
  bool values = false;
  std::string image;
  DasSelection selection;
  ParsedSelection parsed;

  void show(const DasSource& source, nlohmann::json& j, std::string& text) const {
    j = das_info_json(source.info());
    text = describe(source.info());
    if (values) add_value_counts(source, j, text);
  }

  // Every record of one file (PRODML FBE files hold one per band).
  void inspect_file(const std::string& file, nlohmann::json& all) const {
    const DasInfo first = inspect_das(file);
    for (size_t r = 0; r < first.record_count; ++r) {
      nlohmann::json j;
      std::string text;
      show(DasSource::file(file, r).selected(parsed), j, text);
      if (!image.empty() && r == 0) {
        const QuicklookResult q = write_quicklook_png(file, image);
        j["image"] = {{"path", image}, {"width", q.width}, {"height", q.height},
                      {"clip_value", q.clip_value}, {"non_finite_samples", q.non_finite_count}};
        text += "  image:           " + image + " (" + std::to_string(q.width) + " x " + std::to_string(q.height) +
                " px, colours clipped at +-" + number(q.clip_value) + ", " + std::to_string(q.non_finite_count) +
                " NaN/Inf samples)\n";
      }
      if (json) all.push_back(j);
      else std::cout << text;
    }
  }

  // A folder: its continuous records, the breaks between them and the files refused. With
  // --time/--distance, the records the window misses are left out (an error if all are).
  void inspect_folder(const std::string& folder, nlohmann::json& all) const {
    const DasSeries series = order_series(expand_das_inputs({folder}));
    nlohmann::json j = {{"folder", folder}, {"files", series.file_count}, {"records", nlohmann::json::array()},
                        {"breaks", nlohmann::json::array()}, {"unreadable", series.unreadable}};
    std::string text = folder + ": " + std::to_string(series.file_count) + " files, " +
                       std::to_string(series.segments.size()) + " continuous record(s), " +
                       std::to_string(series.breaks.size()) + " break(s)\n";
    std::string missed;
    for (const DasSource& segment : series.segments) {
      nlohmann::json one;
      std::string described;
      try {
        show(segment.selected(parsed), one, described);
      } catch (const UsageError& e) {
        if (parsed.time_start || parsed.time_end || parsed.distance_start_m || parsed.distance_end_m) {
          missed = e.what();
          continue;
        }
        throw;
      }
      one["files"] = segment.files();
      j["records"].push_back(one);
      text += described + "  files:           " + std::to_string(segment.file_count()) + "\n";
    }
    if (j["records"].empty() && !missed.empty()) throw UsageError(missed);
    for (const SeriesBreak& b : series.breaks) {
      j["breaks"].push_back(break_json(b));
      text += "  break: " + b.describe() + "\n";
    }
    for (const std::string& bad : series.unreadable) text += "  unreadable: " + bad + "\n";
    if (json) all.push_back(j);
    else std::cout << text;
    if (!series.unreadable.empty()) throw std::runtime_error(series.unreadable.back());
  }

  void run() {
    parsed = parse_selection(selection);
    if (!image.empty() && !selection.empty())
      throw UsageError("--image draws the whole file; leave out --time and --distance");
    if (!image.empty() && files.size() != 1)
      throw UsageError("--image draws one file; got " + std::to_string(files.size()) + " files");
    nlohmann::json all = nlohmann::json::array();
    std::string last_error;
    for (const std::string& file : files) {
      try {
        if (std::filesystem::is_directory(file)) inspect_folder(file, all);
        else inspect_file(file, all);
      } catch (const UsageError&) {
        throw;
      } catch (const std::runtime_error& e) {
        // Keep going so one bad file does not hide the others; the last error is the exit's.
        if (!last_error.empty()) std::fprintf(stderr, "dasnet: error: %s\n", last_error.c_str());
        last_error = e.what();
      }
    }
    if (json) std::cout << all.dump(2) << std::endl;
    std::cout.flush();
    if (!last_error.empty()) throw std::runtime_error(last_error);
  }
};

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto command = std::make_shared<InspectCommand>();
  CLI::App* sub = app.add_subcommand("inspect", "Show what DAS files hold (format, shape, times, rates, units)");
  sub->add_option("files", command->files,
                  "DAS files (any supported format, detected from the content), or folders of them shown as "
                  "continuous records")
      ->required();
  sub->add_flag("--json", command->json, "Print a JSON array, one object per record (most files hold one)");
  sub->add_flag("--values", command->values, "Also read the samples: count NaN/Inf samples and dead channels");
  sub->add_option("--image", command->image, "Write a quick-look PNG (distance across, time down) of the one file");
  add_selection_flags(sub, command->selection);
  sub->callback([command] { command->run(); });
}

}  // namespace dasnet
