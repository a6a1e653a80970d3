// dasnet inspect FILE...: what a DAS file holds (format, shape, times, rates, units, dtype),
// read from the metadata only; --json for scripts, --image for a quick-look picture.
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "engine/tensor.h"
#include "io/das_formats.h"
#include "io/das_info_json.h"
#include "io/das_quicklook.h"
#include "io/das_time.h"
#include "tools/commands.h"

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
void add_value_counts(const DasInfo& info, nlohmann::json& j, std::string& text) {
  ReadWindow all;
  all.record = info.record_index;
  const DasRecord rec = read_das(info.source, all);
  j["non_finite_samples"] = rec.non_finite_count;
  j["non_finite_channels"] = rec.non_finite_channel_count;
  text += "  NaN/Inf:         " + std::to_string(rec.non_finite_count) + " samples, " +
          std::to_string(rec.non_finite_channel_count) + " channels with no finite sample\n";
}

struct InspectCommand {
  std::vector<std::string> files;
  bool json = false;
  bool values = false;
  std::string image;

  // Every record of one file (PRODML FBE files hold one per band).
  void inspect_file(const std::string& file, nlohmann::json& all) const {
    const DasInfo first = inspect_das(file);
    for (size_t r = 0; r < first.record_count; ++r) {
      const DasInfo info = r == 0 ? first : inspect_das(file, r);
      nlohmann::json j = das_info_json(info);
      std::string text = describe(info);
      if (values) add_value_counts(info, j, text);
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

  void run() const {
    if (!image.empty() && files.size() != 1)
      throw UsageError("--image draws one file; got " + std::to_string(files.size()) + " files");
    nlohmann::json all = nlohmann::json::array();
    std::string last_error;
    for (const std::string& file : files) {
      try {
        inspect_file(file, all);
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
  sub->add_option("files", command->files, "DAS files (any supported format, detected from the content)")
      ->required();
  sub->add_flag("--json", command->json, "Print a JSON array, one object per record (most files hold one)");
  sub->add_flag("--values", command->values, "Also read the samples: count NaN/Inf samples and dead channels");
  sub->add_option("--image", command->image, "Write a quick-look PNG (distance across, time down) of the one file");
  sub->callback([command] { command->run(); });
}

}  // namespace dasnet
