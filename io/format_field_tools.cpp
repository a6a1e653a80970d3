// Formats written by the field's own software rather than by an interrogator: DASDAE
// (DASCore's HDF5 format), xdas netCDF4, DASVader JLD2 (Julia) and H5Simple (a bare data set
// beside a time array, as many labs write by hand).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <array>
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <tuple>

#include "io/das_read_plan.h"
#include "io/das_time.h"

namespace dasnet::detail {
namespace {

std::vector<std::string> split_names(const std::string& text, char separator) {
  std::vector<std::string> names;
  std::string word;
  for (char c : text + separator) {
    if (c == separator) {
      if (!word.empty()) names.push_back(word);
      word.clear();
    } else if (!std::isspace(static_cast<unsigned char>(c))) {
      word += c;
    }
  }
  return names;
}

// Integer values of a 1-D dataset, `block` at a time, handed to `visit(index, value)`
// (memory stays bounded however long the coordinate is).
template <typename Visit>
void for_each_int64(const h5::Node& node, size_t count, Visit visit) {
  constexpr size_t kBlock = 65536;
  std::vector<int64_t> values;
  for (size_t begin = 0; begin < count; begin += kBlock) {
    const size_t n = std::min(kBlock, count - begin);
    values.resize(n);
    node.read_box(H5T_NATIVE_INT64, values.data(), {begin}, {n});
    for (size_t k = 0; k < n; ++k) visit(begin + k, values[k]);
  }
}

// A coordinate read from its values: first value and step; throws unless evenly sampled
// (every value within 1% of a step of first + k * step).
struct EvenAxis {
  double first = 0, step = 0;
};

EvenAxis even_axis(const h5::Node& coord, size_t count, const std::string& what) {
  const auto dims = coord.shape();
  if (dims.size() != 1 || dims[0] != count)
    coord.fail("expected " + std::to_string(count) + " " + what + " values (one per " + what + " index)");
  if (!coord.numeric()) coord.fail("expected numbers, found " + coord.element_type());
  EvenAxis axis;
  axis.first = coord.number_at(0);
  if (count < 2) return axis;
  axis.step = (coord.number_at(count - 1) - axis.first) / static_cast<double>(count - 1);
  if (!(std::fabs(axis.step) > 0) || !std::isfinite(axis.step)) coord.fail(what + " values do not change");
  constexpr size_t kBlock = 65536;
  for (size_t begin = 0; begin < count; begin += kBlock) {
    const auto block = coord.numbers_in(begin, std::min(kBlock, count - begin));
    for (size_t k = 0; k < block.size(); ++k)
      if (!(std::fabs(block[k] - (axis.first + (begin + k) * axis.step)) <= 0.01 * std::fabs(axis.step)))
        coord.fail(what + " values are not evenly sampled (value " + std::to_string(begin + k) +
                   " is off the even grid): not one regular record");
  }
  return axis;
}

// ---- DASDAE ----------------------------------------------------------------------------
// waveforms/<patch>/data with attribute _dims ("distance,time"), and one array per coordinate,
// _coord_<name>: times as int64 nanoseconds (attribute is_datetime64), distances as floats.

std::vector<std::string> dasdae_patches(const h5::File& f) {
  std::vector<std::string> patches;
  if (!f.is_group("/waveforms")) return patches;
  for (const std::string& name : f.children("/waveforms"))
    if (f.is_dataset("/waveforms/" + name + "/data")) patches.push_back("/waveforms/" + name);
  return patches;
}

// The time axis of a DASDAE patch from its int64 nanosecond stamps.
void dasdae_time(ReadPlan& plan, const h5::Node& times) {
  const size_t n = plan.info.num_samples;
  const auto dims = times.shape();
  if (dims.size() != 1 || dims[0] != n) times.fail("expected " + std::to_string(n) + " times (one per sample)");
  if (!times.attr_bool_if("is_datetime64").value_or(false)) times.fail("attribute 'is_datetime64': missing or false");
  if (times.element_type() != "int64") times.fail("expected int64 nanoseconds, found " + times.element_type());
  int64_t first = 0, last = 0;
  for_each_int64(times, 1, [&](size_t, int64_t v) { first = v; });
  plan.info.start_time_ns = first;
  if (n < 2) times.fail("one sample: no sampling rate");
  times.read_box(H5T_NATIVE_INT64, &last, {n - 1}, {1});
  if (last <= first) times.fail("times do not increase");
  const double step = static_cast<double>(last - first) / static_cast<double>(n - 1);
  for_each_int64(times, n, [&](size_t k, int64_t v) {
    if (!(std::fabs(static_cast<double>(v - first) - k * step) <= 0.01 * step))
      times.fail("times are not evenly sampled (sample " + std::to_string(k) + "): not one regular record");
  });
  plan.info.sampling_rate_hz = 1e9 / step;
}

}  // namespace

bool is_dasdae(const h5::File& f) {
  const h5::Node root = f.group("/");
  return root.attr_text_if("__format__").value_or("") == "DASDAE" && !dasdae_patches(f).empty();
}

ReadPlan plan_dasdae(const h5::File& f) { return plan_dasdae_record(f, 0); }

ReadPlan plan_dasdae_record(const h5::File& f, size_t record) {
  const auto patches = dasdae_patches(f);
  if (record >= patches.size())
    f.fail("/waveforms", "record " + std::to_string(record) + " requested; the file holds " +
                             std::to_string(patches.size()) + " patches");
  const h5::Node group = f.group(patches[record]);
  const h5::Node data = f.dataset(patches[record] + "/data");
  const auto dims = split_names(group.attr_string("_dims"), ',');
  const auto time_at = std::find(dims.begin(), dims.end(), "time");
  if (dims.size() != 2 || time_at == dims.end())
    group.fail("attribute '_dims' = '" + group.attr_string("_dims") + "' does not name time and one other axis");
  const int time_axis = static_cast<int>(time_at - dims.begin());
  const std::string space = dims[1 - time_axis];
  if (space != "distance" && space != "channel")
    group.fail("attribute '_dims': the axis beside time is '" + space + "', not distance or channel");

  ReadPlan plan;
  plan.info.format_version = f.group("/").attr_text_if("__DASDAE_version__").value_or("");
  plan.info.record_count = patches.size();
  plan.info.record_name = patches[record].substr(std::strlen("/waveforms/"));
  describe_matrix(plan, data, time_axis);
  dasdae_time(plan, f.dataset(patches[record] + "/_coord_time"));
  const EvenAxis along = even_axis(f.dataset(patches[record] + "/_coord_" + space), plan.info.num_channels, space);
  plan.info.distance_start_m = along.first;
  plan.info.channel_spacing_m = along.step != 0 ? along.step : group.attr_number_if("_attrs_" + space + "_step").value_or(1);
  plan.info.distance_units = space == "channel" ? "" : group.attr_text_if("_attrs_distance_units").value_or("m");
  plan.info.units = group.attr_text_if("_attrs_data_units").value_or("");
  if (plan.info.units.empty()) plan.info.units = unknown_units_for(plan.info.raw_type);
  return plan;
}

// ---- H5Simple --------------------------------------------------------------------------
// As DASCore's H5Simple reader defines it: at the root one data set named raw or data, one time
// array named timestamp, time or timestamps (posix seconds), optionally a distance or channels
// array; no format attribute naming another format. The axis order comes from the root
// attribute dims ("time,channel") or else from which axis the time array's length matches.

namespace {

constexpr const char* kSimpleDataNames[] = {"raw", "data"};
constexpr const char* kSimpleTimeNames[] = {"timestamp", "time", "timestamps"};

template <size_t N>
std::vector<std::string> present(const h5::File& f, const char* const (&names)[N]) {
  std::vector<std::string> found;
  for (const char* name : names)
    if (f.is_dataset(std::string("/") + name)) found.push_back(std::string("/") + name);
  return found;
}

bool names_another_format(const h5::Node& root) {
  for (const char* attr : {"__format__", "file_format", "format"})
    if (auto text = root.attr_text_if(attr); text && *text != "h5simple") return true;
  return false;
}

}  // namespace

bool is_h5simple(const h5::File& f) {
  return !present(f, kSimpleDataNames).empty() && !present(f, kSimpleTimeNames).empty() &&
         !names_another_format(f.group("/"));
}

ReadPlan plan_h5simple(const h5::File& f) {
  const auto data_paths = present(f, kSimpleDataNames), time_paths = present(f, kSimpleTimeNames);
  if (data_paths.size() != 1) f.fail("/", "expected one data set named raw or data, found " + std::to_string(data_paths.size()));
  if (time_paths.size() != 1) f.fail("/", "expected one time array (timestamp, time or timestamps), found " +
                                              std::to_string(time_paths.size()));
  const h5::Node root = f.group("/");
  const h5::Node data = f.dataset(data_paths[0]);
  const h5::Node times = f.dataset(time_paths[0]);
  const auto shape = data.shape();
  const auto tshape = times.shape();
  if (shape.size() != 2) data.fail("expected a 2-D array, found rank " + std::to_string(shape.size()));
  if (tshape.size() != 1) times.fail("expected a 1-D time array, found rank " + std::to_string(tshape.size()));
  int time_axis = -1;
  if (auto dims_text = root.attr_text_if("dims")) {
    const auto dims = split_names(*dims_text, ',');
    const auto at = std::find(dims.begin(), dims.end(), "time");
    if (dims.size() != 2 || at == dims.end()) root.fail("attribute 'dims' = '" + *dims_text + "' does not name time");
    time_axis = static_cast<int>(at - dims.begin());
  } else {
    if (shape[0] == shape[1]) data.fail("square data and no dims attribute: cannot tell which axis is time");
    if (tshape[0] == shape[0]) time_axis = 0;
    else if (tshape[0] == shape[1]) time_axis = 1;
    else times.fail("length " + std::to_string(tshape[0]) + " matches neither axis of " + data.name());
  }
  ReadPlan plan;
  describe_matrix(plan, data, time_axis);

  // Times: posix seconds (DASCore reads the numbers as seconds), snapped to an even grid as
  // DASCore's reader does; dasnet also checks that they are evenly sampled.
  const EvenAxis clock = even_axis(times, plan.info.num_samples, "time");
  if (!(std::fabs(clock.first) < 1e11)) times.fail("values are not posix seconds (first is " + std::to_string(clock.first) + ")");
  if (!(clock.step > 0)) times.fail("times do not increase");
  plan.info.start_time_ns = seconds_to_ns(clock.first);
  plan.info.sampling_rate_hz = 1.0 / clock.step;

  plan.info.distance_units = "";  // channel numbers unless a distance array says more
  plan.info.channel_spacing_m = 1;
  for (const char* name : {"/distance", "/channels"}) {
    if (!f.is_dataset(name)) continue;
    const EvenAxis along = even_axis(f.dataset(name), plan.info.num_channels, name + 1);
    plan.info.distance_start_m = along.first;
    if (along.step != 0) plan.info.channel_spacing_m = along.step;
    if (std::strcmp(name, "/distance") == 0) plan.info.distance_units = "m";
    break;
  }
  plan.info.units = root.attr_text_if("data_units").value_or(unknown_units_for(plan.info.raw_type));
  return plan;
}

// ---- xdas netCDF4 -----------------------------------------------------------------------
// xdas writes a DataArray as one 2-D netCDF variable whose coordinates are CF tie points
// (CF 1.9+ "coordinate subsampling"): attribute coordinate_interpolation = "time: time_indices
// time_values distance: distance_indices distance_values"; the coordinate at index i is the
// linear interpolation of the values between the tie indices around i. Times are CF numbers
// ("milliseconds since 2023-01-01 00:00:00"). dasnet reads one evenly sampled record: tie points
// that describe a gap or a change of rate are refused, naming them.

namespace {

// "time: time_indices time_values distance: ..." -> {"time": {indices, values}, ...}.
std::vector<std::array<std::string, 3>> tie_point_mapping(const h5::Node& var) {
  const auto words = split_names(var.attr_string("coordinate_interpolation"), ' ');
  std::vector<std::array<std::string, 3>> out;
  for (size_t k = 0; k + 2 < words.size(); k += 3) {
    const std::string& dim = words[k];
    if (dim.size() < 2 || dim.back() != ':') break;
    out.push_back({dim.substr(0, dim.size() - 1), words[k + 1], words[k + 2]});
  }
  if (out.empty() || out.size() * 3 != words.size())
    var.fail("attribute 'coordinate_interpolation' = '" + var.attr_string("coordinate_interpolation") +
             "' is not 'dim: indices values ...'");
  return out;
}

// A 2-D root variable carrying coordinate_interpolation (the DataArray), or "".
std::string xdas_variable(const h5::File& f) {
  for (const std::string& name : f.children("/")) {
    const std::string path = "/" + name;
    if (!f.is_dataset(path)) continue;
    const h5::Node node = f.dataset(path);
    if (node.has_attr("coordinate_interpolation") && node.shape().size() == 2) return path;
  }
  return "";
}

// Nanoseconds per unit of a CF time unit ("milliseconds", "s", "days", ...); 0 if unknown.
int64_t cf_unit_ns(std::string unit) {
  for (char& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (unit.size() > 1 && unit.back() == 's' && unit != "ns" && unit != "us" && unit != "ms" && unit != "s") unit.pop_back();
  if (unit == "nanosecond" || unit == "ns") return 1;
  if (unit == "microsecond" || unit == "us") return 1000;
  if (unit == "millisecond" || unit == "ms") return 1000000;
  if (unit == "second" || unit == "sec" || unit == "s") return 1000000000LL;
  if (unit == "minute" || unit == "min") return 60000000000LL;
  if (unit == "hour" || unit == "hr" || unit == "h") return 3600000000000LL;
  if (unit == "day" || unit == "d") return 86400000000000LL;
  return 0;
}

// The dimension names of a netCDF-4 variable: its _Netcdf4Coordinates dimension ids matched to
// the _Netcdf4Dimid of the root's dimension scales.
std::vector<std::string> netcdf_dimensions(const h5::File& f, const h5::Node& var) {
  if (!var.has_attr("_Netcdf4Coordinates")) var.fail("attribute '_Netcdf4Coordinates': missing (not netCDF-4?)");
  const auto ids = var.attr_numbers("_Netcdf4Coordinates");
  std::vector<std::string> names(ids.size());
  for (const std::string& name : f.children("/")) {
    if (!f.is_dataset("/" + name)) continue;
    const h5::Node scale = f.dataset("/" + name);
    if (scale.attr_text_if("CLASS").value_or("") != "DIMENSION_SCALE") continue;
    const auto id = scale.attr_number_if("_Netcdf4Dimid");
    for (size_t k = 0; id && k < ids.size(); ++k)
      if (ids[k] == *id) names[k] = name;
  }
  for (size_t k = 0; k < names.size(); ++k)
    if (names[k].empty()) var.fail("no dimension scale with _Netcdf4Dimid " + std::to_string(ids[k]));
  return names;
}

// The evenly sampled axis the tie points of one dimension describe: (first, step) in the
// values' units. Tie indices must start at 0 and end at `count` - 1.
EvenAxis tie_point_axis(const h5::File& f, const std::string& indices_name, const std::string& values_name,
                        size_t count) {
  const h5::Node indices = f.dataset("/" + indices_name), values = f.dataset("/" + values_name);
  const auto n = indices.shape();
  if (n.size() != 1 || n[0] < 1 || values.shape() != n)
    values.fail("expected as many tie values as tie indices (" + indices_name + ")");
  if (n[0] > 100000) indices.fail("too many tie points");
  std::vector<int64_t> index(n[0]);
  indices.read_box(H5T_NATIVE_INT64, index.data(), {0}, {n[0]});
  const auto value = values.read_numbers(n[0]);
  if (index.front() != 0 || index.back() != static_cast<int64_t>(count) - 1)
    indices.fail("tie indices must run from 0 to " + std::to_string(count - 1) + ", found " +
                 std::to_string(index.front()) + " to " + std::to_string(index.back()));
  EvenAxis axis{value.front(), 0};
  if (count < 2) return axis;
  axis.step = (value.back() - value.front()) / static_cast<double>(count - 1);
  if (!(std::fabs(axis.step) > 0) || !std::isfinite(axis.step)) values.fail("tie values do not change");
  for (size_t k = 1; k < index.size(); ++k) {
    const double expected = axis.first + static_cast<double>(index[k]) * axis.step;
    if (index[k] <= index[k - 1] || !(std::fabs(value[k] - expected) <= 0.01 * std::fabs(axis.step)))
      values.fail("tie point " + std::to_string(k) + " (index " + std::to_string(index[k]) + ", value " +
                  std::to_string(value[k]) + ") is off the even grid: a gap or a change of rate, not one regular record");
  }
  return axis;
}

}  // namespace

bool is_xdas(const h5::File& f) { return !xdas_variable(f).empty(); }

ReadPlan plan_xdas(const h5::File& f) {
  const std::string path = xdas_variable(f);
  const h5::Node var = f.dataset(path);
  const auto dims = netcdf_dimensions(f, var);
  const auto time_at = std::find(dims.begin(), dims.end(), "time");
  if (dims.size() != 2 || time_at == dims.end()) var.fail("dimensions (" + dims[0] + ", " + dims[1] + ") do not include time");
  const int time_axis = static_cast<int>(time_at - dims.begin());
  ReadPlan plan;
  plan.info.format_version = f.group("/").attr_text_if("Conventions").value_or("");
  describe_matrix(plan, var, time_axis);

  bool have_time = false, have_space = false;
  for (const auto& [dim, indices, values] : tie_point_mapping(var)) {
    if (dim == "time") {
      const auto units = f.dataset("/" + values).attr_text_if("units").value_or("");
      const size_t since = units.find(" since ");
      const int64_t unit_ns = since == std::string::npos ? 0 : cf_unit_ns(units.substr(0, since));
      const auto epoch = since == std::string::npos ? std::nullopt : parse_iso8601_ns(units.substr(since + 7));
      if (unit_ns == 0 || !epoch)
        f.dataset("/" + values).fail("attribute 'units' = '" + units + "' is not '<unit> since <time>'");
      const EvenAxis clock = tie_point_axis(f, indices, values, plan.info.num_samples);
      if (plan.info.num_samples < 2 || !(clock.step > 0)) f.dataset("/" + values).fail("times do not increase");
      plan.info.start_time_ns = *epoch + std::llround(clock.first * static_cast<double>(unit_ns));
      plan.info.sampling_rate_hz = 1e9 / (clock.step * static_cast<double>(unit_ns));
      have_time = true;
    } else if (dim == dims[1 - time_axis]) {
      const EvenAxis along = tie_point_axis(f, indices, values, plan.info.num_channels);
      plan.info.distance_start_m = along.first;
      plan.info.channel_spacing_m = along.step != 0 ? along.step : 1;
      plan.info.distance_units = f.dataset("/" + values).attr_text_if("units").value_or("m");
      have_space = true;
    }
  }
  if (!have_time || !have_space)
    var.fail("attribute 'coordinate_interpolation' gives no tie points for " + std::string(have_time ? dims[1 - time_axis] : "time"));
  plan.info.units = var.attr_text_if("units").value_or(unknown_units_for(plan.info.raw_type));
  return plan;
}

// ---- DASVader JLD2 ---------------------------------------------------------------------
// JLD2 is HDF5 with a 512-byte user block. DASVader saves one struct, /dDAS, a compound with
// object references to anonymous arrays: data (distance x time as HDF5 stores Julia's
// column-major time x distance; "strainrate" in other versions, time x distance), htime
// (Julia DateTime values: milliseconds since 0000-12-31, Rata Die), and the axes as Julia
// StepRangeLen structs (ref, step as TwicePrecision hi + lo; len; offset), the time axis in
// seconds from htime[0], the offset axis in metres.

namespace {

struct TwicePrecision {
  double hi, lo;
  double value() const { return hi + lo; }
};
struct StepRangeLen {
  TwicePrecision ref, step;
  int64_t len, offset;
  double first() const { return ref.value() + static_cast<double>(1 - offset) * step.value(); }
};
struct DasVaderHeader {
  hobj_ref_t data;
  StepRangeLen time;
  hobj_ref_t htime;
  StepRangeLen offset;
};

// Julia's DateTime stores milliseconds since 0000-12-31T00:00:00 (Rata Die day 1).
constexpr int64_t kJuliaUnixEpochMs = 62135683200000LL;

h5::Handle compound(size_t size, std::initializer_list<std::tuple<const char*, size_t, hid_t>> members) {
  h5::Handle type(H5Tcreate(H5T_COMPOUND, size));
  for (const auto& [name, offset, member] : members) H5Tinsert(type.get(), name, offset, member);
  return type;
}

h5::Handle step_range_len_type() {
  h5::Handle twice = compound(sizeof(TwicePrecision), {{"hi", offsetof(TwicePrecision, hi), H5T_NATIVE_DOUBLE},
                                                       {"lo", offsetof(TwicePrecision, lo), H5T_NATIVE_DOUBLE}});
  return compound(sizeof(StepRangeLen), {{"ref", offsetof(StepRangeLen, ref), twice.get()},
                                         {"step", offsetof(StepRangeLen, step), twice.get()},
                                         {"len", offsetof(StepRangeLen, len), H5T_NATIVE_INT64},
                                         {"offset", offsetof(StepRangeLen, offset), H5T_NATIVE_INT64}});
}

// The data member's name ("data" or "strainrate"), or "" when /dDAS is not DASVader's struct.
std::string dasvader_data_member(const h5::File& f) {
  if (!f.is_dataset("/dDAS")) return "";
  h5::Handle type(H5Dget_type(f.dataset("/dDAS").id()));
  if (!type.valid() || H5Tget_class(type.get()) != H5T_COMPOUND) return "";
  for (const char* needed : {"time", "htime", "offset"})
    if (H5Tget_member_index(type.get(), needed) < 0) return "";
  for (const char* name : {"data", "strainrate"})
    if (H5Tget_member_index(type.get(), name) >= 0) return name;
  return "";
}

// Reads only the members dasnet needs (never the variable-length name or attribute strings).
DasVaderHeader read_dasvader_header(const h5::File& f, const std::string& data_member) {
  const h5::Node dd = f.dataset("/dDAS");
  if (dd.element_count() != 1) dd.fail("expected one DASVader struct");
  h5::Handle range = step_range_len_type();
  h5::Handle mem = compound(sizeof(DasVaderHeader), {{data_member.c_str(), offsetof(DasVaderHeader, data), H5T_STD_REF_OBJ},
                                                     {"time", offsetof(DasVaderHeader, time), range.get()},
                                                     {"htime", offsetof(DasVaderHeader, htime), H5T_STD_REF_OBJ},
                                                     {"offset", offsetof(DasVaderHeader, offset), range.get()}});
  DasVaderHeader header{};
  if (H5Dread(dd.id(), mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &header) < 0)
    dd.fail("members " + data_member + ", time, htime, offset: not DASVader's types (references and StepRangeLen)");
  return header;
}

// htime[0]: a Julia DateTime, {instant: {periods: {value: Int64}}}, in Unix nanoseconds.
int64_t julia_datetime_ns(const h5::Node& htime) {
  h5::Handle value = compound(sizeof(int64_t), {{"value", 0, H5T_NATIVE_INT64}});
  h5::Handle periods = compound(sizeof(int64_t), {{"periods", 0, value.get()}});
  h5::Handle instant = compound(sizeof(int64_t), {{"instant", 0, periods.get()}});
  if (htime.element_count() < 1) htime.fail("empty: no start time");
  int64_t ms = 0;
  try {
    htime.read_box(instant.get(), &ms, std::vector<hsize_t>(htime.shape().size(), 0),
                   std::vector<hsize_t>(htime.shape().size(), 1));
  } catch (const std::runtime_error&) {
    htime.fail("expected Julia DateTime values (instant.periods.value)");
  }
  return (ms - kJuliaUnixEpochMs) * 1000000;
}

}  // namespace

bool is_dasvader(const h5::File& f) { return !dasvader_data_member(f).empty(); }

ReadPlan plan_dasvader(const h5::File& f) {
  const std::string member = dasvader_data_member(f);
  const DasVaderHeader header = read_dasvader_header(f, member);
  const h5::Node data = f.dataset_at_reference(header.data, "/dDAS." + member);
  if (header.time.len < 1 || header.offset.len < 1)
    f.fail("/dDAS", "time.len = " + std::to_string(header.time.len) + ", offset.len = " + std::to_string(header.offset.len));
  const auto shape = data.shape();
  if (shape.size() != 2) data.fail("expected a 2-D array, found rank " + std::to_string(shape.size()));
  // The axis whose length is time.len; where both match, the member name decides.
  const uint64_t nt = static_cast<uint64_t>(header.time.len), nx = static_cast<uint64_t>(header.offset.len);
  int time_axis = member == "data" ? 1 : 0;
  if (!((shape[0] == nt && shape[1] == nx) || (shape[0] == nx && shape[1] == nt)))
    data.fail("shape " + std::to_string(shape[0]) + " x " + std::to_string(shape[1]) + " does not match time.len " +
              std::to_string(nt) + " and offset.len " + std::to_string(nx));
  if (nt != nx) time_axis = shape[0] == nt ? 0 : 1;
  ReadPlan plan;
  plan.data_reference = header.data;
  describe_matrix(plan, data, time_axis);
  plan.info.data_path = "/dDAS." + member + " (object reference)";

  const double dt = header.time.step.value(), dx = header.offset.step.value();
  if (!(dt > 0) || !std::isfinite(dt)) f.fail("/dDAS", "time.step = " + std::to_string(dt) + " is not a positive interval");
  if (!(dx > 0) || !std::isfinite(dx)) f.fail("/dDAS", "offset.step = " + std::to_string(dx) + " is not a positive spacing");
  const h5::Node htime = f.dataset_at_reference(header.htime, "/dDAS.htime");
  plan.info.start_time_ns = julia_datetime_ns(htime) + std::llround(header.time.first() * 1e9);
  plan.info.sampling_rate_hz = 1.0 / dt;
  plan.info.distance_start_m = header.offset.first();
  plan.info.channel_spacing_m = dx;
  plan.info.units = unknown_units_for(plan.info.raw_type);
  return plan;
}

}  // namespace dasnet::detail
