// PRODML 2.0 / 2.1 (Acquisition/Raw[N]/RawData) and GDR DAS (DasRawData/RawData), which
// borrows PRODML's names.
#include <algorithm>
#include <cctype>
#include <cmath>

#include "io/das_read_plan.h"
#include "io/das_time.h"

namespace dasnet::detail {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Dimension names as files spell them: an array of names (["time", "locus"]) or one string
// ("time, locus", "[time locus]", "locus,time"). Array elements are names as they stand
// (they may hold spaces: "measured depth"); one string is split at commas, else at spaces.
std::vector<std::string> dimension_names(const h5::Node& node, const std::string& attr) {
  std::vector<std::string> entries = node.attr_strings(attr);
  const bool one_string = entries.size() == 1;
  std::vector<std::string> names;
  for (const std::string& entry : entries) {
    const bool has_comma = entry.find(',') != std::string::npos;
    std::string word;
    for (char c : entry + ",") {
      const bool cut = c == ',' || (one_string && !has_comma && c == ' ');
      if (cut) {
        while (!word.empty() && word.back() == ' ') word.pop_back();
        if (!word.empty()) names.push_back(lower(word));
        word.clear();
      } else if (c != '[' && c != ']' && c != '\'' && c != '"' && !(word.empty() && c == ' ')) {
        word += c;
      }
    }
  }
  return names;
}

bool names_time(const std::string& name) { return name.find("time") != std::string::npos; }

bool names_space(const std::string& name) {
  for (const char* word : {"locus", "loci", "distance", "channel", "depth", "fiber", "fibre", "position"})
    if (name.find(word) != std::string::npos) return true;
  return false;
}

// The stored axis that is time, from dimension names like ("time", "locus"). Names that are
// neither time nor space (a third name some files add) are ignored; exactly one of each must
// remain, and time must name one of the two axes.
int time_axis_from_names(const h5::Node& data, const std::string& attr) {
  const auto names = dimension_names(data, attr);
  std::string listed;
  for (const auto& n : names) listed += (listed.empty() ? "" : ", ") + n;
  int time_at = -1, space_at = -1, times = 0, spaces = 0;
  for (int k = 0; k < static_cast<int>(names.size()); ++k) {
    if (names_time(names[k])) ++times, time_at = k;
    else if (names_space(names[k])) ++spaces, space_at = k;
  }
  if (times != 1 || spaces != 1 || time_at > 1 || space_at > 1)
    data.fail("attribute '" + attr + "' = (" + listed + ") does not name one time and one locus axis of the 2-D data");
  return time_at;
}

double metres_per_unit(const std::string& unit) {
  const std::string u = lower(unit);
  if (u == "ft" || u == "foot" || u == "feet") return 0.3048;
  if (u == "km") return 1000.0;
  return 1.0;
}

std::optional<double> first_positive_attr(const h5::Node& node, std::initializer_list<const char*> names) {
  for (const char* name : names)
    if (auto v = node.attr_number_if(name); v && std::isfinite(*v) && *v > 0) return v;
  return std::nullopt;
}

// Index N of "Raw[N]", or -1.
int raw_index(const std::string& name) {
  if (name.rfind("Raw[", 0) != 0 || name.back() != ']') return -1;
  const std::string digits = name.substr(4, name.size() - 5);
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), ::isdigit) || digits.size() > 6) return -1;
  return std::stoi(digits);
}

std::string first_raw_group(const h5::File& f) {
  int best = -1;
  for (const std::string& name : f.children("/Acquisition")) {
    const int index = raw_index(name);
    if (index >= 0 && (best < 0 || index < best) && f.is_dataset("/Acquisition/" + name + "/RawData")) best = index;
  }
  return best < 0 ? "" : "/Acquisition/Raw[" + std::to_string(best) + "]";
}

}  // namespace

bool is_prodml(const h5::File& f) {
  return f.is_group("/Acquisition") && !first_raw_group(f).empty();
}

ReadPlan plan_prodml(const h5::File& f) {
  const h5::Node acq = f.group("/Acquisition");
  const std::string raw_path = first_raw_group(f);
  if (raw_path.empty()) acq.fail("missing Raw[N]/RawData");
  const h5::Node raw = f.group(raw_path);
  const h5::Node data = f.dataset(raw_path + "/RawData");
  ReadPlan plan;
  plan.info.format_version = acq.attr_text_if("schemaVersion").value_or("");

  // Axis order: the Dimensions attribute where present, else the axis NumberOfLoci matches.
  int time_axis = 0;
  if (data.has_attr("Dimensions")) {
    time_axis = time_axis_from_names(data, "Dimensions");
  } else if (raw.has_attr("Dimensions")) {
    time_axis = time_axis_from_names(raw, "Dimensions");
  } else {
    auto loci = raw.attr_number_if("NumberOfLoci");
    if (!loci) loci = acq.attr_number_if("NumberOfLoci");
    if (!loci) data.fail("no Dimensions attribute and no NumberOfLoci to tell the axis order");
    const auto dims = data.shape();
    if (dims.size() != 2) data.fail("expected a 2-D array, found rank " + std::to_string(dims.size()));
    const bool second = static_cast<double>(dims[1]) == *loci, first = static_cast<double>(dims[0]) == *loci;
    if (!first && !second)
      data.fail("NumberOfLoci = " + std::to_string(static_cast<long long>(*loci)) + " matches neither axis (" +
                std::to_string(dims[0]) + " x " + std::to_string(dims[1]) + ")");
    time_axis = second ? 0 : 1;  // square data: PRODML's default order, time x locus
  }
  describe_matrix(plan, data, time_axis);
  const size_t n = plan.info.num_samples;

  // Space.
  const std::string unit = acq.attr_string_if("SpatialSamplingIntervalUnit")
                               .value_or(acq.attr_string_if("SpatialSamplingInterval.uom").value_or("m"));
  const double spacing = require_positive(acq, "SpatialSamplingInterval", acq.attr_number("SpatialSamplingInterval"));
  plan.info.channel_spacing_m = spacing * metres_per_unit(unit);
  auto start_locus = raw.attr_number_if("StartLocusIndex");
  if (!start_locus) start_locus = acq.attr_number_if("StartLocusIndex");
  plan.info.first_locus = static_cast<int64_t>(std::llround(start_locus.value_or(0)));
  plan.info.distance_start_m = plan.info.first_locus * plan.info.channel_spacing_m;
  plan.info.distance_units = unit;
  if (auto gauge = first_positive_attr(acq, {"MeasuredGaugeLength", "GaugeLength"})) plan.info.gauge_length_m = *gauge;
  else if (auto g2 = first_positive_attr(raw, {"MeasuredGaugeLength", "GaugeLength"})) plan.info.gauge_length_m = *g2;

  // Values.
  plan.info.units = raw.attr_string_if("RawDataUnit").value_or(data.attr_string_if("RawDataUnit").value_or(""));
  if (plan.info.units.empty() || lower(plan.info.units) == "unknown")
    plan.info.units = unknown_units_for(plan.info.raw_type);

  // Time: ISO strings first (vendors agree on them), the integer microseconds of
  // RawDataTime otherwise.
  const std::string time_path = raw_path + "/RawDataTime";
  const bool has_time = f.is_dataset(time_path);
  std::optional<h5::Node> times;
  if (has_time) times.emplace(f.dataset(time_path));
  struct Stamp { const h5::Node* node; const char* attr; };
  std::vector<Stamp> start_stamps = {{&data, "PartStartTime"}, {&raw, "PartStartTime"}, {&raw, "StartTime"}};
  if (times) start_stamps.insert(start_stamps.begin() + 1, {{&*times, "PartStartTime"}, {&*times, "StartTime"}});
  bool have_start = false;
  for (const Stamp& s : start_stamps) {
    if (auto text = s.node->attr_string_if(s.attr)) {
      auto ns = parse_iso8601_ns(*text);
      if (!ns) s.node->fail(std::string("attribute '") + s.attr + "': not an ISO-8601 time: '" + *text + "'");
      plan.info.start_time_ns = *ns;
      have_start = true;
      break;
    }
  }
  const bool usable_times = times && times->shape().size() == 1 && times->shape()[0] >= n && times->numeric();
  if (!have_start) {
    if (!usable_times) data.fail("no start time (PartStartTime/StartTime attribute or RawDataTime)");
    plan.info.start_time_ns = times->int64_at(0) * 1000;  // microseconds
  }

  if (auto rate = first_positive_attr(raw, {"OutputDataRate"})) {
    plan.info.sampling_rate_hz = *rate;
  } else if (usable_times && n >= 2) {
    const int64_t first = times->int64_at(0), last = times->int64_at(n - 1);
    if (last <= first) times->fail("times do not increase");
    plan.info.sampling_rate_hz = (n - 1) * 1e6 / static_cast<double>(last - first);
  } else if (auto end_text = data.attr_string_if("PartEndTime"); end_text && have_start && n >= 2) {
    auto end = parse_iso8601_ns(*end_text);
    if (!end || *end <= plan.info.start_time_ns) data.fail("attribute 'PartEndTime': unusable: '" + *end_text + "'");
    plan.info.sampling_rate_hz = (n - 1) * 1e9 / static_cast<double>(*end - plan.info.start_time_ns);
  } else {
    raw.fail("no sampling rate (OutputDataRate, RawDataTime or PartEndTime)");
  }
  return plan;
}

// ---- GDR ------------------------------------------------------------------------------

bool is_gdr(const h5::File& f) {
  return f.is_group("/DasMetadata") && f.is_dataset("/DasRawData/RawData");
}

ReadPlan plan_gdr(const h5::File& f) {
  const h5::Node meta = f.group("/DasMetadata");
  const h5::Node acq = f.group("/DasMetadata/Interrogator/Acquisition");
  const h5::Node data = f.dataset("/DasRawData/RawData");
  ReadPlan plan;
  plan.info.format_version = meta.attr_text_if("MetadataStandard").value_or("") + " / " +
                             meta.attr_text_if("RawDataStandard").value_or("");
  if (!data.has_attr("DasDimensions")) data.fail("attribute 'DasDimensions': missing");
  describe_matrix(plan, data, time_axis_from_names(data, "DasDimensions"));
  const size_t n = plan.info.num_samples;

  const std::string unit = acq.attr_string_if("SpatialSamplingIntervalUnit").value_or("m");
  plan.info.channel_spacing_m =
      require_positive(acq, "SpatialSamplingInterval", acq.attr_number("SpatialSamplingInterval")) * metres_per_unit(unit);
  plan.info.distance_units = unit;
  if (auto gauge = first_positive_attr(acq, {"GaugeLength"})) plan.info.gauge_length_m = *gauge;
  plan.info.units = acq.attr_string_if("UnitOfMeasure").value_or("");
  if (plan.info.units.empty()) plan.info.units = unknown_units_for(plan.info.raw_type);

  // DasTimeArray: integer nanoseconds since the epoch, one per sample.
  const h5::Node times = f.dataset("/DasRawData/DasTimeArray");
  const auto tdims = times.shape();
  if (tdims.size() != 1 || tdims[0] != n)
    times.fail("expected " + std::to_string(n) + " times (one per sample), found shape of rank " + std::to_string(tdims.size()) +
               (tdims.empty() ? "" : " and length " + std::to_string(tdims[0])));
  plan.info.start_time_ns = times.int64_at(0);
  if (n >= 2) {
    const int64_t last = times.int64_at(n - 1);
    if (last <= plan.info.start_time_ns) times.fail("times do not increase");
    plan.info.sampling_rate_hz = (n - 1) * 1e9 / static_cast<double>(last - plan.info.start_time_ns);
  } else if (auto rate = first_positive_attr(acq, {"AcquisitionSampleRate", "OutputDataRate"})) {
    plan.info.sampling_rate_hz = *rate;
  } else {
    times.fail("one sample and no sampling rate");
  }
  return plan;
}

}  // namespace dasnet::detail
