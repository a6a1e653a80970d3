// PRODML 2.0 / 2.1 / 2.2 (Acquisition/Raw[N]/RawData and the processed frequency-band energy
// of Acquisition/Processed/Fbe[N]/FbeData[M], one record per band) and GDR DAS
// (DasRawData/RawData), which borrows PRODML's names.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

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

// Index N of "<prefix>[N]", or -1.
int bracket_index(const std::string& name, const std::string& prefix) {
  if (name.rfind(prefix + "[", 0) != 0 || name.back() != ']') return -1;
  const std::string digits = name.substr(prefix.size() + 1, name.size() - prefix.size() - 2);
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), ::isdigit) || digits.size() > 6) return -1;
  return std::stoi(digits);
}

// Children of `group` named <prefix>[N], in the order of N, as full paths.
std::vector<std::string> indexed_children(const h5::File& f, const std::string& group, const std::string& prefix) {
  std::vector<std::pair<int, std::string>> found;
  if (!f.is_group(group)) return {};
  for (const std::string& name : f.children(group))
    if (const int index = bracket_index(name, prefix); index >= 0) found.emplace_back(index, group + "/" + name);
  std::sort(found.begin(), found.end());
  std::vector<std::string> paths;
  for (auto& entry : found) paths.push_back(entry.second);
  return paths;
}

std::string first_raw_group(const h5::File& f) {
  for (const std::string& raw : indexed_children(f, "/Acquisition", "Raw"))
    if (f.is_dataset(raw + "/RawData")) return raw;
  return "";
}

// The records of a PRODML file: the first Raw[N] holding RawData, then every FBE band
// (Processed/Fbe[N]/FbeData[M], in the order of N then M). DASCore lists the bands first;
// dasnet keeps raw data as record 0 so that tools reading record 0 get the raw data.
struct ProdmlRecord {
  std::string group;  // Raw[N] or Fbe[N]: the time array and rate live here
  std::string data;
  bool fbe = false;
};

std::vector<ProdmlRecord> prodml_records(const h5::File& f) {
  std::vector<ProdmlRecord> records;
  if (const std::string raw = first_raw_group(f); !raw.empty()) records.push_back({raw, raw + "/RawData", false});
  for (const std::string& fbe : indexed_children(f, "/Acquisition/Processed", "Fbe"))
    for (const std::string& band : indexed_children(f, fbe, "FbeData"))
      if (f.is_dataset(band)) records.push_back({fbe, band, true});
  return records;
}

// Axis order: the Dimensions attribute (of the data, else its group), else the axis that
// NumberOfLoci (of the group, else the acquisition) matches.
int prodml_time_axis(const h5::Node& data, const h5::Node& group, const h5::Node& acq) {
  if (data.has_attr("Dimensions")) return time_axis_from_names(data, "Dimensions");
  if (group.has_attr("Dimensions")) return time_axis_from_names(group, "Dimensions");
  auto loci = group.attr_number_if("NumberOfLoci");
  if (!loci) loci = acq.attr_number_if("NumberOfLoci");
  if (!loci) data.fail("no Dimensions attribute and no NumberOfLoci to tell the axis order");
  const auto dims = data.shape();
  if (dims.size() != 2) data.fail("expected a 2-D array, found rank " + std::to_string(dims.size()));
  const bool second = static_cast<double>(dims[1]) == *loci, first = static_cast<double>(dims[0]) == *loci;
  if (!first && !second)
    data.fail("NumberOfLoci = " + std::to_string(static_cast<long long>(*loci)) + " matches neither axis (" +
              std::to_string(dims[0]) + " x " + std::to_string(dims[1]) + ")");
  return second ? 0 : 1;  // square data: PRODML's default order, time x locus
}

// Start time and rate. ISO strings first (vendors agree on them), the integer microseconds of
// the time array (<group>/RawDataTime or FbeDataTime) otherwise; the rate from
// OutputDataRate, else the time array, else PartEndTime.
void prodml_time(ReadPlan& plan, const h5::File& f, const h5::Node& data, const h5::Node& group,
                 const std::string& time_path) {
  const size_t n = plan.info.num_samples;
  std::optional<h5::Node> times;
  if (f.is_dataset(time_path)) times.emplace(f.dataset(time_path));
  struct Stamp { const h5::Node* node; const char* attr; };
  std::vector<Stamp> start_stamps = {{&data, "PartStartTime"}, {&group, "PartStartTime"}, {&group, "StartTime"}};
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
    if (!usable_times) data.fail("no start time (PartStartTime/StartTime attribute or " + time_path + ")");
    plan.info.start_time_ns = times->int64_at(0) * 1000;  // microseconds
  }

  if (auto rate = first_positive_attr(group, {"OutputDataRate"})) {
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
    group.fail("no sampling rate (OutputDataRate, " + time_path + " or PartEndTime)");
  }
}

// "FBE band 2 (9.28-50.3 Hz)" from the band's StartFrequency/EndFrequency.
std::string fbe_product(const h5::Node& band, size_t band_index) {
  std::string product = "FBE band " + std::to_string(band_index);
  const auto low = band.attr_number_if("StartFrequency"), high = band.attr_number_if("EndFrequency");
  if (low && high) {
    char range[64];
    std::snprintf(range, sizeof range, " (%.3g-%.3g Hz)", *low, *high);
    product += range;
  }
  return product;
}

}  // namespace

bool is_prodml(const h5::File& f) {
  return f.is_group("/Acquisition") && !prodml_records(f).empty();
}

ReadPlan plan_prodml(const h5::File& f) { return plan_prodml_record(f, 0); }

ReadPlan plan_prodml_record(const h5::File& f, size_t record) {
  const h5::Node acq = f.group("/Acquisition");
  const auto records = prodml_records(f);
  if (records.empty()) acq.fail("missing Raw[N]/RawData and Processed/Fbe[N]/FbeData[M]");
  if (record >= records.size())
    acq.fail("record " + std::to_string(record) + " requested; the file holds " + std::to_string(records.size()) +
             (records.size() == 1 ? " record" : " records"));
  const ProdmlRecord& which = records[record];
  const h5::Node group = f.group(which.group);
  const h5::Node data = f.dataset(which.data);
  ReadPlan plan;
  plan.info.format_version = acq.attr_text_if("schemaVersion").value_or("");
  plan.info.record_count = records.size();
  plan.info.record_index = record;
  describe_matrix(plan, data, prodml_time_axis(data, group, acq));

  // Space. FBE bands: the band's StartLocusIndex counts from the acquisition's first locus (as
  // DASCore reads it); raw data states its own.
  const std::string unit = acq.attr_string_if("SpatialSamplingIntervalUnit")
                               .value_or(acq.attr_string_if("SpatialSamplingInterval.uom").value_or("m"));
  const double spacing = require_positive(acq, "SpatialSamplingInterval", acq.attr_number("SpatialSamplingInterval"));
  plan.info.channel_spacing_m = spacing * metres_per_unit(unit);
  const double acq_start = acq.attr_number_if("StartLocusIndex").value_or(0);
  const auto own_start = group.attr_number_if("StartLocusIndex");
  const double start_locus = which.fbe ? acq_start + own_start.value_or(0) : own_start.value_or(acq_start);
  plan.info.first_locus = static_cast<int64_t>(std::llround(start_locus));
  plan.info.distance_start_m = plan.info.first_locus * plan.info.channel_spacing_m;
  plan.info.distance_units = unit;
  if (auto gauge = first_positive_attr(acq, {"MeasuredGaugeLength", "GaugeLength"})) plan.info.gauge_length_m = *gauge;
  else if (auto g2 = first_positive_attr(group, {"MeasuredGaugeLength", "GaugeLength"})) plan.info.gauge_length_m = *g2;

  // Values.
  const char* unit_attr = which.fbe ? "FbeDataUnit" : "RawDataUnit";
  plan.info.units = group.attr_string_if(unit_attr).value_or(data.attr_string_if(unit_attr).value_or(""));
  if (plan.info.units.empty() || lower(plan.info.units) == "unknown")
    plan.info.units = unknown_units_for(plan.info.raw_type);
  if (which.fbe) {
    plan.info.processed = true;
    const std::string band_name = which.data.substr(which.data.rfind('/') + 1);
    plan.info.product = fbe_product(data, static_cast<size_t>(bracket_index(band_name, "FbeData")));
    plan.info.record_name = which.data.substr(std::string("/Acquisition/Processed/").size());
  }
  prodml_time(plan, f, data, group, which.group + (which.fbe ? "/FbeDataTime" : "/RawDataTime"));
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
