// Vendor layouts that store one matrix plus their own metadata conventions: Terra15, ASN
// OptoDAS, AP Sensing, Silixa H5 and Neubrex (Febus A1: io/format_febus.cpp).
#include <algorithm>
#include <cctype>
#include <cmath>

#include "io/das_read_plan.h"
#include "io/das_time.h"

namespace dasnet::detail {

// ---- Terra15 --------------------------------------------------------------------------
// Version 4: /<data_product>/data (the group named by the root attribute data_product, e.g.
// "velocity"); versions 5 and 6: /data_product/data. Time x channel, with posix_time (the
// computer clock) and gps_time (seconds, one per sample) beside the data; dt (v4) or
// dt_computer (v5+), dx, sensing_range_start as root attributes. The file preallocates frames:
// rows past the last written time carry time 0 and are not data.
//
// The sample interval is the interrogator's (dt_computer = frame interval, e.g. 5 / pulse_rate),
// not the mean step of the per-frame stamps, which jitter by a frame. The start is gps_time[0]
// when the file says GPS was locked (gps_locked), else the computer clock posix_time[0].

namespace {
std::string terra15_group(const h5::File& f) {
  if (f.is_dataset("/data_product/data")) return "/data_product";
  if (!f.group("/").has_attr("data_product")) return "";
  const std::string product = "/" + f.group("/").attr_string("data_product");
  return f.is_dataset(product + "/data") ? product : "";
}

// Rows with a time stamp: scans back from the end in blocks (memory stays bounded).
size_t terra15_written_rows(const h5::Node& times, size_t rows) {
  size_t valid = rows;
  constexpr size_t kBlock = 65536;
  while (valid > 0) {
    const size_t begin = valid > kBlock ? valid - kBlock : 0;
    const auto block = times.numbers_in(begin, valid - begin);
    size_t k = block.size();
    while (k > 0 && !(block[k - 1] > 0)) --k;
    if (k > 0) return begin + k;
    valid = begin;
  }
  times.fail("empty data: no sample has a time stamp");
}
}  // namespace

bool is_terra15(const h5::File& f) {
  const h5::Node root = f.group("/");
  if (!root.has_attr("file_version")) return false;
  return !terra15_group(f).empty();
}

ReadPlan plan_terra15(const h5::File& f) {
  const h5::Node root = f.group("/");
  const std::string group = terra15_group(f);
  const h5::Node data = f.dataset(group + "/data");
  ReadPlan plan;
  plan.info.format_version = root.attr_text_if("file_version").value_or("");
  describe_matrix(plan, data, 0);

  const bool gps_locked = root.attr_bool_if("gps_locked").value_or(false) && f.is_dataset(group + "/gps_time");
  const h5::Node times = f.dataset(group + (gps_locked ? "/gps_time" : "/posix_time"));
  const auto tdims = times.shape();
  if (tdims.size() != 1 || tdims[0] < plan.info.num_samples)
    times.fail("expected one time per sample (" + std::to_string(plan.info.num_samples) + ")");
  plan.info.num_samples = terra15_written_rows(times, plan.info.num_samples);
  plan.info.start_time_ns = seconds_to_ns(times.number_at(0));

  auto dt = root.attr_number_if("dt_computer");
  if (!dt) dt = root.attr_number_if("dt");
  if (!dt) dt = data.attr_number_if("dT");
  if (!dt) root.fail("attribute 'dt' (or 'dt_computer'): missing");
  plan.info.sampling_rate_hz = 1.0 / require_positive(root, "dt", *dt);
  auto dx = root.attr_number_if("dx");
  if (!dx) dx = data.attr_number_if("dx");
  if (!dx) root.fail("attribute 'dx': missing");
  plan.info.channel_spacing_m = require_positive(root, "dx", *dx);
  plan.info.distance_start_m = root.attr_number_if("sensing_range_start").value_or(0);
  plan.info.gauge_length_m = root.attr_number_if("gauge_length").value_or(0);
  plan.info.units = root.attr_string_if("data_product_units").value_or(unknown_units_for(plan.info.raw_type));
  return plan;
}

// ---- ASN OptoDAS ----------------------------------------------------------------------
// /data plus /header datasets: dimensionNames, dimensionRanges/dimensionK/{unitScale,min},
// time (posix seconds), channels, dataScale, sensitivities, unit, gaugeLength.
// Physical value = raw * dataScale / sensitivities[0] (phase -> strain); without
// sensitivities, raw * dataScale in header/unit.

bool is_optodas(const h5::File& f) {
  return f.is_dataset("/data") && f.is_group("/header") && f.exists("/acqSpec") && f.exists("/cableSpec") &&
         f.exists("/fileVersion");
}

ReadPlan plan_optodas(const h5::File& f) {
  ReadPlan plan;
  const h5::Node version = f.dataset("/fileVersion");
  plan.info.format_version = version.numeric() ? std::to_string(static_cast<long long>(version.scalar_number()))
                                               : version.scalar_string();
  const h5::Node names_node = f.dataset("/header/dimensionNames");
  const auto names = names_node.read_strings();
  if (names.size() != 2) names_node.fail("expected 2 dimension names, found " + std::to_string(names.size()));
  int time_axis = -1;
  for (int k = 0; k < 2; ++k)
    if (names[k] == "time") time_axis = k;
  if (time_axis < 0 || names[1 - time_axis] != "distance")
    names_node.fail("expected dimensions (time, distance), found (" + names[0] + ", " + names[1] + ")");
  describe_matrix(plan, f.dataset("/data"), time_axis);

  const std::string ranges = "/header/dimensionRanges/dimension";
  const std::string time_range = ranges + std::to_string(time_axis);
  const std::string dist_range = ranges + std::to_string(1 - time_axis);
  const h5::Node dt_node = f.dataset(time_range + "/unitScale");
  const double dt = require_positive(dt_node, "time step", dt_node.scalar_number());
  plan.info.sampling_rate_hz = 1.0 / dt;
  const double first_index = f.is_dataset(time_range + "/min") ? f.dataset(time_range + "/min").scalar_number() : 0;
  plan.info.start_time_ns = seconds_to_ns(f.dataset("/header/time").scalar_number() + first_index * dt);

  const h5::Node dx_node = f.dataset(dist_range + "/unitScale");
  const double dx = require_positive(dx_node, "channel step", dx_node.scalar_number());
  plan.info.channel_spacing_m = dx;
  if (f.is_dataset("/header/channels")) {
    const h5::Node channels = f.dataset("/header/channels");
    const auto ch = channels.numbers_in(0, std::min<hsize_t>(2, channels.element_count()));
    if (!ch.empty()) {
      plan.info.distance_start_m = ch[0] * dx;
      plan.info.first_locus = static_cast<int64_t>(std::llround(ch[0]));
    }
    if (ch.size() == 2) {
      // OptoDAS may keep every Nth sensing point: the stored channels' index step.
      const double stride = require_positive(channels, "channel stride", ch[1] - ch[0]);
      plan.info.channel_spacing_m = stride * dx;
      plan.info.channel_step = static_cast<size_t>(std::llround(stride));
    }
  }
  if (f.is_dataset("/header/gaugeLength")) plan.info.gauge_length_m = f.dataset("/header/gaugeLength").scalar_number();

  std::string unit = f.is_dataset("/header/unit") ? f.dataset("/header/unit").scalar_string() : "";
  double scale = f.is_dataset("/header/dataScale") ? f.dataset("/header/dataScale").scalar_number() : 1.0;
  if (f.is_dataset("/header/sensitivities")) {
    const h5::Node sens = f.dataset("/header/sensitivities");
    const auto values = sens.read_numbers(1 << 16);
    if (values.empty()) sens.fail("empty");
    scale /= require_positive(sens, "sensitivity", values[0]);
    // rad/m/s over rad/(m*strain) leaves strain/s; rad/m over the same leaves strain.
    unit = unit.find("/s") != std::string::npos ? "strain/s" : "strain";
  }
  if (!std::isfinite(scale) || scale == 0) f.fail("/header/dataScale", "unusable scale " + std::to_string(scale));
  plan.info.scale_factor = scale;
  plan.info.scale_stated = f.is_dataset("/header/dataScale") || f.is_dataset("/header/sensitivities");
  plan.info.units = unit.empty() ? unknown_units_for(plan.info.raw_type) : unit;
  return plan;
}

// ---- AP Sensing -----------------------------------------------------------------------
// /DAS (time x channel) with metadata in one-element datasets: ProcessingServer/DataRate,
// ProcessingServer/GaugeLength, Metadata/Timestamp, Metadata/Timezone, Metadata/TraceCount,
// DAQ/PositionStart, DAQ/PositionEnd. Values are phase (rad) as stored.

bool is_ap_sensing(const h5::File& f) {
  return f.is_dataset("/DAS") && f.is_group("/ProcessingServer") && f.is_group("/Metadata") && f.is_group("/DAQ");
}

ReadPlan plan_ap_sensing(const h5::File& f) {
  ReadPlan plan;
  plan.info.format_version = f.group("/").attr_text_if("FileVersion").value_or("");
  describe_matrix(plan, f.dataset("/DAS"), 0);
  const size_t n = plan.info.num_samples, nc = plan.info.num_channels;
  const h5::Node rate = f.dataset("/ProcessingServer/DataRate");
  plan.info.sampling_rate_hz = require_positive(rate, "DataRate", rate.scalar_number());

  const h5::Node zone = f.dataset("/Metadata/Timezone");
  const std::string tz = zone.scalar_string();
  if (tz != "UTC" && tz != "UTC+0" && tz != "UTC+00:00" && tz != "GMT") zone.fail("time zone '" + tz + "' is not UTC");
  const h5::Node stamp = f.dataset("/Metadata/Timestamp");
  const std::string text = stamp.scalar_string();
  auto ns = parse_time_ns(text);
  if (!ns) stamp.fail("not a time: '" + text + "'");
  plan.info.start_time_ns = *ns;
  if (f.is_dataset("/Metadata/TraceCount")) {
    const h5::Node count = f.dataset("/Metadata/TraceCount");
    if (count.scalar_number() != static_cast<double>(n))
      count.fail("TraceCount " + std::to_string(static_cast<long long>(count.scalar_number())) + " differs from the " +
                 std::to_string(n) + " samples of /DAS");
  }
  const double x0 = f.dataset("/DAQ/PositionStart").scalar_number();
  const double x1 = f.dataset("/DAQ/PositionEnd").scalar_number();
  // The stated SpatialSampling does not reproduce the channel count; the span does.
  plan.info.channel_spacing_m = require_positive(f.dataset("/DAQ/PositionEnd"), "PositionEnd - PositionStart", (x1 - x0) / nc);
  plan.info.distance_start_m = x0;
  if (f.is_dataset("/ProcessingServer/GaugeLength"))
    plan.info.gauge_length_m = f.dataset("/ProcessingServer/GaugeLength").scalar_number();
  plan.info.units = plan.info.raw_type.rfind("float", 0) == 0 ? "rad" : "counts";  // AP Sensing stores phase
  return plan;
}

// ---- Silixa H5 ------------------------------------------------------------------------
// /Acoustic (time x channel) whose attributes are mostly text: "SamplingFrequency[Hz]",
// "SpatialResolution[m]", "Fibre Length Multiplier", "StartPosition[m]", "GaugeLength", and
// day-first time stamps "GPSTimeStamp" / "CPUTimeStamp" like "20/06/2023 12:34:56.5 (UTC)".

bool is_silixa_h5(const h5::File& f) {
  if (!f.is_dataset("/Acoustic")) return false;
  const h5::Node a = f.dataset("/Acoustic");
  return a.has_attr("SamplingFrequency[Hz]") && (a.has_attr("GPSTimeStamp") || a.has_attr("CPUTimeStamp"));
}

ReadPlan plan_silixa_h5(const h5::File& f) {
  const h5::Node a = f.dataset("/Acoustic");
  ReadPlan plan;
  describe_matrix(plan, a, 0);
  plan.info.format_version = a.attr_text_if("ISO8601 Timestamp").has_value() ? "2" : "1";
  plan.info.sampling_rate_hz = require_positive(a, "SamplingFrequency[Hz]", a.attr_number("SamplingFrequency[Hz]"));
  std::optional<int64_t> start;
  for (const char* name : {"GPSTimeStamp", "CPUTimeStamp"}) {
    if (auto text = a.attr_string_if(name); text && !text->empty()) {
      start = parse_day_first_ns(*text);
      if (!start) start = parse_iso8601_ns(*text);
      if (!start) a.fail(std::string("attribute '") + name + "': not a time: '" + *text + "'");
      break;
    }
  }
  if (!start) a.fail("attribute 'GPSTimeStamp' / 'CPUTimeStamp': missing or empty");
  plan.info.start_time_ns = *start;
  const double multiplier = a.attr_number_if("Fibre Length Multiplier").value_or(1.0);
  plan.info.channel_spacing_m =
      require_positive(a, "SpatialResolution[m]", a.attr_number("SpatialResolution[m]") * multiplier);
  plan.info.distance_start_m = a.attr_number_if("StartPosition[m]").value_or(0) * multiplier;
  plan.info.gauge_length_m = a.attr_number_if("GaugeLength").value_or(0);
  plan.info.units = unknown_units_for(plan.info.raw_type);
  return plan;
}

// ---- Neubrex --------------------------------------------------------------------------
// /Acoustic (time x channel) with NEUBRESCOPE.* attributes, "GPSTimeStamp(UTC)" or
// "CPUTimeStamp(UTC)", "TimeSamplingInterval(seconds)", SpatialSamplingInterval,
// StartPosition, GaugeLength and DataPhysicalUnit. Decimated files are refused (never seen).

bool is_neubrex(const h5::File& f) {
  if (!f.is_dataset("/Acoustic")) return false;
  const h5::Node a = f.dataset("/Acoustic");
  return a.has_attr("NEUBRESCOPE.DAS.Model") && a.has_attr("SpatialSamplingInterval");
}

ReadPlan plan_neubrex(const h5::File& f) {
  const h5::Node a = f.dataset("/Acoustic");
  ReadPlan plan;
  describe_matrix(plan, a, 0);
  plan.info.format_version = a.attr_text_if("NEUBRESCOPE.DAS.Model").value_or("");
  for (const char* filter : {"TimeDecimationFilter", "DistanceDecimationFilter"}) {
    const double v = a.attr_number_if(filter).value_or(0);
    if (v != 0 && v != 1) a.fail(std::string("attribute '") + filter + "' = " + std::to_string(v) + ": decimated files are not supported");
  }
  const double dt = a.attr_number("TimeSamplingInterval(seconds)");
  plan.info.sampling_rate_hz = 1.0 / require_positive(a, "TimeSamplingInterval(seconds)", dt);
  std::optional<int64_t> start;
  for (const char* name : {"GPSTimeStamp(UTC)", "CPUTimeStamp(UTC)"}) {
    if (auto text = a.attr_string_if(name); text && !text->empty()) {
      start = parse_time_ns(*text);
      if (!start) a.fail(std::string("attribute '") + name + "': not a time: '" + *text + "'");
      break;
    }
  }
  if (!start) a.fail("attribute 'GPSTimeStamp(UTC)' / 'CPUTimeStamp(UTC)': missing or empty");
  plan.info.start_time_ns = *start;
  plan.info.channel_spacing_m = require_positive(a, "SpatialSamplingInterval", a.attr_number("SpatialSamplingInterval"));
  plan.info.distance_start_m = a.attr_number_if("StartPosition").value_or(0);
  plan.info.gauge_length_m = a.attr_number_if("GaugeLength").value_or(0);
  plan.info.units = a.attr_string_if("DataPhysicalUnit").value_or(unknown_units_for(plan.info.raw_type));
  return plan;
}

}  // namespace dasnet::detail
