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

std::string describe(const DasInfo& info) {
  std::ostringstream out;
  out << info.source << "\n"
      << "  format:          " << info.format << (info.format_version.empty() ? "" : " " + info.format_version) << "\n"
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
      << "  channel spacing: " << metres(info.channel_spacing_m) << "\n"
      << "  distance start:  " << number(info.distance_start_m) << " m\n"
      << "  gauge length:    " << metres(info.gauge_length_m) << "\n"
      << "  units:           " << info.units << (info.scale_factor != 1.0 ? " (raw x " + number(info.scale_factor) + ")" : "")
      << "\n"
      << "  dtype:           " << info.raw_type << "\n";
  return out.str();
}

nlohmann::json to_json(const DasInfo& info) {
  nlohmann::json j;
  j["file"] = info.source;
  j["format"] = info.format;
  j["format_version"] = info.format_version;
  j["data_path"] = info.data_path;
  j["stored_order"] = info.stored_order;
  j["channels"] = info.num_channels;
  j["samples"] = info.num_samples;
  if (info.start_time_known) {
    j["start_time"] = format_iso8601_ns(info.start_time_ns);
    j["end_time"] = format_iso8601_ns(info.end_time_ns());
    j["start_time_ns"] = info.start_time_ns;
  } else {
    j["start_time"] = nullptr;
    j["end_time"] = nullptr;
    j["start_time_ns"] = nullptr;
  }
  j["duration_s"] = info.duration_s();
  j["sampling_rate_hz"] = info.sampling_rate_hz;
  j["channel_spacing_m"] = info.channel_spacing_m;
  j["distance_start_m"] = info.distance_start_m;
  j["gauge_length_m"] = info.gauge_length_m;
  j["units"] = info.units;
  j["scale_factor"] = info.scale_factor;
  j["dtype"] = info.raw_type;
  return j;
}

struct InspectCommand {
  std::vector<std::string> files;
  bool json = false;
  std::string image;

  void run() const {
    if (!image.empty() && files.size() != 1)
      throw UsageError("--image draws one file; got " + std::to_string(files.size()) + " files");
    nlohmann::json all = nlohmann::json::array();
    std::string last_error;
    for (const std::string& file : files) {
      try {
        const DasInfo info = inspect_das(file);
        nlohmann::json j = to_json(info);
        std::string picture_note;
        if (!image.empty()) {
          const QuicklookResult q = write_quicklook_png(file, image);
          j["image"] = {{"path", image}, {"width", q.width}, {"height", q.height},
                        {"clip_value", q.clip_value}, {"non_finite_samples", q.non_finite_count}};
          picture_note = "  image:           " + image + " (" + std::to_string(q.width) + " x " +
                         std::to_string(q.height) + " px, colours clipped at +-" + number(q.clip_value) + ", " +
                         std::to_string(q.non_finite_count) + " NaN/Inf samples)\n";
        }
        if (json) {
          all.push_back(j);
        } else {
          std::cout << describe(info) << picture_note;
        }
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
  sub->add_flag("--json", command->json, "Print a JSON array, one object per file");
  sub->add_option("--image", command->image, "Write a quick-look PNG (distance across, time down) of the one file");
  sub->callback([command] { command->run(); });
}

}  // namespace dasnet
