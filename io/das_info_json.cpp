#include "io/das_info_json.h"

#include "io/das_time.h"

namespace dasnet {

nlohmann::json das_info_json(const DasInfo& info) {
  nlohmann::json j;
  j["file"] = info.source;
  j["format"] = info.format;
  j["format_version"] = info.format_version;
  j["record_index"] = info.record_index;
  j["record_count"] = info.record_count;
  j["record_name"] = info.record_name;
  j["processed"] = info.processed;
  j["product"] = info.product;
  j["data_path"] = info.data_path;
  j["stored_order"] = info.stored_order;
  j["time_axis"] = info.time_axis;
  j["channels"] = info.num_channels;
  j["samples"] = info.num_samples;
  if (info.start_time_known) {
    j["start_time"] = format_iso8601_ns(info.start_time_ns);
    j["end_time"] = format_iso8601_ns(info.end_time_ns());
    j["start_time_ns"] = info.start_time_ns;
    j["end_time_ns"] = info.end_time_ns();
  } else {
    j["start_time"] = nullptr;
    j["end_time"] = nullptr;
    j["start_time_ns"] = nullptr;
    j["end_time_ns"] = nullptr;
  }
  j["duration_s"] = info.duration_s();
  j["sampling_rate_hz"] = info.sampling_rate_hz;
  j["channel_spacing_m"] = info.channel_spacing_m;
  j["distance_start_m"] = info.distance_start_m;
  j["distance_units"] = info.distance_units;
  j["first_locus"] = info.first_locus;
  j["channel_step"] = info.channel_step;
  j["gauge_length_m"] = info.gauge_length_m;
  j["units"] = info.units;
  j["scale_factor"] = info.scale_factor;
  j["scale_stated"] = info.scale_stated;
  j["dtype"] = info.raw_type;
  return j;
}

}  // namespace dasnet
