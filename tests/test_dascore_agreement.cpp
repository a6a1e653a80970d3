// dasnet's readers against DASCore (the field's reference reader), file by file: dims (stored
// order), shape, time of the first and last sample, sampling rate, distance start and step,
// dtype and every sample value. DASCore's reading comes from tests/dascore/dump_dascore.py,
// run once for every file of the table (the real files of shared/data/das and synthetic
// files of every layout). Where DASCore is wrong, the row says which check and why, and the
// test still checks dasnet against the file.
//
// To add a file: one row in kCases (a real file name, or a fixture writer for a synthetic one).
#include <gtest/gtest.h>
#include <hdf5.h>

#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "io/das_formats.h"
#include "io/das_time.h"
#include "io/hdf5_util.h"
#include "tests/das_fixtures.h"
#include "tests/real_files.h"

namespace dasnet {
namespace {

namespace fs = std::filesystem;
namespace fx = fixtures;

// The comparisons, each of which a row may mark as "DASCore is wrong here".
enum Check : unsigned {
  kDims = 1, kShape = 2, kStart = 4, kEnd = 8, kRate = 16, kDistanceStart = 32, kDistanceStep = 64, kDtype = 128,
  kValues = 256,
};

struct AgreementCase {
  const char* name;                          // the test's name
  const char* real_file;                     // in shared/data/das, or nullptr for a synthetic file
  std::function<void(const std::string&)> write;  // writes the synthetic file
  unsigned dascore_wrong = 0;                // checks on which DASCore is known wrong (see `why`)
  const char* why = "";                      // what DASCore gets wrong and what the file says
  // Checks of dasnet against the file itself where DASCore is wrong (may be empty).
  std::function<void(const std::string& path)> file_says = nullptr;
  // Where the file's times are coarser than a nanosecond (float64 posix seconds resolve about
  // 0.24 us in 2023), how far the first/last sample may differ.
  double time_slack_ns = 0;
  // Where DASCore cannot read the file, why; the row then compares dasnet with the dump's
  // independent reading (dump_dascore.py) where it has one, and with file_says.
  const char* dascore_cannot = nullptr;
};

// float64 posix seconds near 2023 resolve 2^-22 s = 0.24 us, and dasnet rounds such stamps to
// whole microseconds (seconds_to_ns) rather than keep their noise: half a microsecond.
constexpr double kFloatSecondsSlackNs = 500;

void PrintTo(const AgreementCase& c, std::ostream* out) { *out << c.name; }

// DASVader: every sample and both axes against raw HDF5 reads of what /dDAS references.
void check_dasvader_against_hdf5(const std::string& path) {
  struct Axis {
    double ref_hi, ref_lo, step_hi, step_lo;
    int64_t len, offset;
  };
  struct Header {
    hobj_ref_t data;
    Axis time, offset;
  };
  h5::Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  h5::Handle dd(H5Dopen2(file, "/dDAS", H5P_DEFAULT));
  h5::Handle twice(H5Tcreate(H5T_COMPOUND, 16));
  H5Tinsert(twice, "hi", 0, H5T_NATIVE_DOUBLE);
  H5Tinsert(twice, "lo", 8, H5T_NATIVE_DOUBLE);
  h5::Handle axis(H5Tcreate(H5T_COMPOUND, sizeof(Axis)));
  H5Tinsert(axis, "ref", offsetof(Axis, ref_hi), twice);
  H5Tinsert(axis, "step", offsetof(Axis, step_hi), twice);
  H5Tinsert(axis, "len", offsetof(Axis, len), H5T_NATIVE_INT64);
  H5Tinsert(axis, "offset", offsetof(Axis, offset), H5T_NATIVE_INT64);
  h5::Handle mem(H5Tcreate(H5T_COMPOUND, sizeof(Header)));
  H5Tinsert(mem, "data", offsetof(Header, data), H5T_STD_REF_OBJ);
  H5Tinsert(mem, "time", offsetof(Header, time), axis);
  H5Tinsert(mem, "offset", offsetof(Header, offset), axis);
  Header header{};
  ASSERT_GE(H5Dread(dd, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, &header), 0);
  h5::Handle data(H5Rdereference2(dd, H5P_DEFAULT, H5R_OBJECT, &header.data));
  ASSERT_TRUE(data.valid());
  h5::Handle space(H5Dget_space(data));
  hsize_t dims[2] = {};
  ASSERT_EQ(H5Sget_simple_extent_ndims(space), 2);
  H5Sget_simple_extent_dims(space, dims, nullptr);
  std::vector<float> stored(dims[0] * dims[1]);
  ASSERT_GE(H5Dread(data, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, stored.data()), 0);
  const DasInfo info = inspect_das(path);
  EXPECT_EQ(dims[0], static_cast<hsize_t>(header.offset.len));  // distance x time as HDF5 stores it
  EXPECT_EQ(dims[1], static_cast<hsize_t>(header.time.len));
  EXPECT_EQ(info.num_channels, dims[0]);
  EXPECT_EQ(info.num_samples, dims[1]);
  EXPECT_DOUBLE_EQ(1 / info.sampling_rate_hz, header.time.step_hi + header.time.step_lo);
  EXPECT_DOUBLE_EQ(info.channel_spacing_m, header.offset.step_hi + header.offset.step_lo);
  EXPECT_EQ(read_das(path).data, stored);
}

fx::Spec small_spec() {
  fx::Spec spec;
  spec.channels = 7;
  spec.samples = 50;
  return spec;
}

const std::vector<AgreementCase>& cases() {
  static const std::vector<AgreementCase> table = {
      // ---- real files (shared/data/das) ----
      {"prodml_2_0", "prodml_2.0.h5", nullptr},
      {"terra15_v5", "terra15_v5_test_file.hdf5", nullptr, kStart | kEnd | kRate,
       "DASCore takes the mean step of the per-frame stamps ((last - first) / (n - 1) = 0.31077 ms), which "
       "jitter by a frame; the file states the interrogator's interval dt_computer = 5 / pulse_rate = 0.31096 ms. "
       "Its start is gps_time[0], but the file says gps_locked = False (clock_source internal): the computer "
       "clock posix_time[0] (= file_start_computer_time) is the file's time",
       [](const std::string& path) {
         h5::File f(path);
         const DasInfo info = inspect_das(path);
         const double dt = f.group("/").attr_number("dt_computer");
         EXPECT_DOUBLE_EQ(info.sampling_rate_hz, 1 / dt);
         EXPECT_NEAR(dt, 5 / f.group("/").attr_number("pulse_rate"), 1e-12);
         EXPECT_EQ(info.start_time_ns, seconds_to_ns(f.group("/").attr_number("file_start_computer_time")));
       },
       kFloatSecondsSlackNs},
      {"febus_2", "febus_2.h5", nullptr, 0, "",
       [](const std::string& path) {
         // DASCore labels this strain rate in nanostrain/s; the data set is a PSD in dB.
         const DasInfo info = inspect_das(path);
         EXPECT_TRUE(info.processed);
         EXPECT_EQ(info.units, "dB re 1 nStrain/sqrt(Hz)");
         EXPECT_EQ(info.num_samples, 1050u);  // round(1 s block / 0.952 ms): 975 rows dropped before, 976 after
         EXPECT_EQ(read_das(path).non_finite_channel_count, 1u);  // the README's all-NaN channel
       },
       kFloatSecondsSlackNs},
      // ---- real files of the field's own software and PRODML FBE (io/format_field_tools.cpp) ----
      {"dasdae_dispersion_event", "dispersion_event.h5", nullptr},
      {"h5simple_1", "h5_simple_1.h5", nullptr, 0, "", nullptr, kFloatSecondsSlackNs},
      {"prodml_fbe_1", "prodml_fbe_1.h5", nullptr, 0, "",
       [](const std::string& path) {
         for (size_t band = 0; band < 5; ++band) EXPECT_TRUE(inspect_das(path, band).processed) << band;
       }},
      {"xdas_netcdf", "xdas_netcdf.nc", nullptr, 0, "", nullptr, 0,
       "DASCore 0.1.24 has no xdas reader (UnknownFiberFormatError); compared with h5py + numpy interpolating the "
       "tie points"},
      {"dasvader_1", "das_vader_1.jld2", nullptr, 0, "", check_dasvader_against_hdf5, 0,
       "DASCore 0.1.24 needs h5py < 3.16 / HDF5 1.14 to follow this file's references to anonymous arrays "
       "(DASVaderCompatibilityError with h5py 3.16 / HDF5 2.0); compared with raw HDF5 1.10 reads of the "
       "referenced arrays"},
      {"synthetic_dasdae_two_patches", nullptr, [](const std::string& p) { fx::write_dasdae(p, small_spec(), 2); }},
      {"synthetic_h5simple", nullptr, [](const std::string& p) { fx::write_h5simple(p, small_spec()); }, 0, "",
       nullptr, kFloatSecondsSlackNs},
      {"synthetic_h5simple_distance", nullptr, [](const std::string& p) { fx::write_h5simple(p, small_spec(), true); },
       0, "", nullptr, kFloatSecondsSlackNs},
      {"synthetic_prodml_fbe", nullptr, [](const std::string& p) { fx::write_prodml_fbe(p, small_spec(), 3); }},
      {"synthetic_xdas", nullptr, [](const std::string& p) { fx::write_xdas(p, small_spec(), {0, 20, 49}); }, 0, "",
       nullptr, 0, "DASCore 0.1.24 has no xdas reader; compared with h5py + numpy interpolating the tie points"},
      {"synthetic_dasvader", nullptr, [](const std::string& p) { fx::write_dasvader(p, small_spec()); },
       kStart | kEnd,
       "DASCore converts htime, Julia's integer milliseconds, through float seconds (unix_ms / 1000), which "
       "resolve about 0.2 us in 2023; the file's start is an exact number of milliseconds",
       [](const std::string& path) {
         EXPECT_EQ(inspect_das(path).start_time_ns, small_spec().start_ns / 1000000 * 1000000);
       }},
      // ---- real files of the non-HDF5 formats (io/binary_format.h) ----
      // TDMS time stamps count 2^-64 s; DASCore rounds GPSTimeStamp to whole microseconds.
      {"tdms_idas_4713", "iDAS005_tdms_example.626.tdms", nullptr, 0, "", nullptr, 1000},
      // ---- end of the non-HDF5 rows ----
      // ---- synthetic files of each layout (tests/das_fixtures.h) ----
      {"synthetic_prodml_2_0", nullptr, [](const std::string& p) { fx::write_prodml(p, small_spec(), "2.0"); }},
      {"synthetic_terra15_v4", nullptr, [](const std::string& p) { fx::write_terra15(p, small_spec(), 3, 4); },
       0, "", nullptr, kFloatSecondsSlackNs},
      {"synthetic_terra15_v5", nullptr, [](const std::string& p) { fx::write_terra15(p, small_spec(), 3, 5); },
       0, "", nullptr, kFloatSecondsSlackNs},
      {"synthetic_terra15_v6", nullptr, [](const std::string& p) { fx::write_terra15(p, small_spec(), 3, 6); },
       0, "", nullptr, kFloatSecondsSlackNs},
      {"synthetic_febus", nullptr, [](const std::string& p) { fx::write_febus(p, small_spec(), 4, 20, 5); }, 0, "",
       nullptr, kFloatSecondsSlackNs},
      {"synthetic_febus_newer", nullptr,
       [](const std::string& p) {
         fx::FebusLayout layout;
         layout.newer = true;
         fx::write_febus(p, small_spec(), 3, 37, 3, layout);
       },
       0, "", nullptr, kFloatSecondsSlackNs},
      {"synthetic_gdr", nullptr, [](const std::string& p) { fx::write_gdr(p, small_spec()); }},
      {"synthetic_gdr_three_dimension_names", nullptr,
       [](const std::string& p) { fx::write_gdr(p, small_spec(), {"locus", "time", "strain rate"}); }},
      {"synthetic_neubrex", nullptr, [](const std::string& p) { fx::write_neubrex(p, small_spec()); }},
  };
  return table;
}

// One reading of a file, from either reader, in dasnet's terms (channel x time values).
struct Reading {
  std::string dims;  // stored order, e.g. "time,distance"
  size_t samples = 0, channels = 0;
  int64_t first_ns = 0, last_ns = 0;
  double step_ns = 0;
  double distance_start = 0, distance_step = 0;
  std::string dtype;
  std::vector<float> values;  // channel-major
};

bool dascore_importable() {
  static const bool importable = std::system("python3 -c 'import dascore' >/dev/null 2>&1") == 0;
  return importable;
}

// Runs dump_dascore.py once over `files`; returns the dump's path.
std::string run_dascore(const std::vector<std::string>& files, const std::string& dir) {
  const std::string out = (fs::path(dir) / "dascore.h5").string();
  std::string command = "timeout 600 python3 " + std::string(DASNET_SOURCE_DIR) + "/tests/dascore/dump_dascore.py '" +
                        out + "'";
  for (const std::string& f : files) command += " '" + f + "'";
  command += " 2>" + (fs::path(dir) / "dascore.log").string();
  if (std::system(command.c_str()) != 0) throw std::runtime_error("dump_dascore.py failed: " + command);
  return out;
}

// Patch `patch` of input `index` of the dump; `error` gets DASCore's message when it failed
// and the dump holds no independent reading of that patch (then `reader` names it).
Reading dascore_reading(const std::string& dump, size_t index, size_t patch, std::string& error,
                        std::string* reader = nullptr) {
  h5::File file(dump);
  const std::string group = "/file" + std::to_string(index);
  const h5::Node g = file.group(group);
  const std::string p = group + "/p" + std::to_string(patch);
  if (auto e = g.attr_string_if("error"); e && !file.is_group(p)) {
    error = *e;
    return {};
  }
  if (!file.is_group(p)) {
    error = "DASCore returned fewer patches (no patch " + std::to_string(patch) + ")";
    return {};
  }
  const h5::Node node = file.group(p);
  if (reader) *reader = node.attr_string_if("reader").value_or("DASCore");
  Reading r;
  r.dims = node.attr_string("dims");
  r.dtype = node.attr_string("dtype");
  const std::string distance_dim = r.dims.find("channel") != std::string::npos ? "channel" : "distance";
  r.samples = static_cast<size_t>(node.attr_int64("time_len"));
  r.channels = static_cast<size_t>(node.attr_int64(distance_dim + "_len"));
  r.first_ns = node.attr_int64("time_min");
  r.last_ns = node.attr_int64("time_max");
  r.step_ns = static_cast<double>(node.attr_int64("time_step"));
  r.distance_start = node.attr_number(distance_dim + "_min");
  r.distance_step = node.attr_number(distance_dim + "_step");
  const h5::Node data = file.dataset(p + "/data");
  const auto shape = data.shape();
  if (shape.size() != 2) data.fail("expected 2-D data");
  const bool time_first = r.dims.rfind("time", 0) == 0;
  std::vector<float> stored(shape[0] * shape[1]);
  data.read_box(H5T_NATIVE_FLOAT, stored.data(), {0, 0}, {shape[0], shape[1]});
  r.values.resize(stored.size());
  for (size_t a = 0; a < shape[0]; ++a)
    for (size_t b = 0; b < shape[1]; ++b) {
      const size_t c = time_first ? b : a, t = time_first ? a : b;
      r.values[c * r.samples + t] = stored[a * shape[1] + b];
    }
  return r;
}

Reading dasnet_reading(const std::string& path, size_t record) {
  const DasInfo info = inspect_das(path, record);
  ReadWindow all;
  all.record = record;
  const DasRecord rec = read_das(path, all);
  Reading r;
  const std::string distance_dim = info.distance_units.empty() ? "channel" : "distance";
  r.dims = info.time_axis == 0 ? "time," + distance_dim : distance_dim + ",time";
  r.samples = info.num_samples;
  r.channels = info.num_channels;
  r.first_ns = info.start_time_ns;
  r.last_ns = info.end_time_ns();
  r.step_ns = 1e9 / info.sampling_rate_hz;
  r.distance_start = info.distance_start_m;
  r.distance_step = info.channel_spacing_m;
  r.dtype = info.raw_type;
  // Compare the values as stored: undo the scale dasnet applied.
  r.values = rec.data;
  if (info.scale_factor != 1.0)
    for (float& v : r.values) v = static_cast<float>(v / info.scale_factor);
  return r;
}

class DascoreAgreement : public ::testing::TestWithParam<AgreementCase> {
 protected:
  static void SetUpTestSuite() {
    if (!dascore_importable()) return;
    dir_ = fx::make_temp_dir("dascore-agreement");
    for (const AgreementCase& c : cases()) {
      std::string path;
      if (c.real_file) {
        path = fx::real_file(c.real_file);
      } else {
        path = (fs::path(dir_) / (std::string(c.name) + ".h5")).string();
        c.write(path);
      }
      paths_.push_back(path);
    }
    dump_ = run_dascore(paths_, dir_);
  }
  static void TearDownTestSuite() {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  static std::string dir_, dump_;
  static std::vector<std::string> paths_;
};
std::string DascoreAgreement::dir_, DascoreAgreement::dump_;
std::vector<std::string> DascoreAgreement::paths_;

// Equal, or (where the row says DASCore is wrong) reported with the row's reason.
template <typename T>
void compare(const AgreementCase& c, Check check, const char* what, const T& ours, const T& theirs, bool equal) {
  if (c.dascore_wrong & check) {
    std::printf("  %s: dasnet %s, DASCore %s -- DASCore is wrong here: %s\n", what, ::testing::PrintToString(ours).c_str(),
                ::testing::PrintToString(theirs).c_str(), c.why);
    return;
  }
  EXPECT_TRUE(equal) << what << ": dasnet " << ::testing::PrintToString(ours) << ", DASCore "
                     << ::testing::PrintToString(theirs);
}

void compare_readings(const AgreementCase& c, const Reading& ours, const Reading& dc) {
  compare(c, kDims, "dims", ours.dims, dc.dims, ours.dims == dc.dims);
  compare(c, kShape, "shape (channels, samples)", std::make_pair(ours.channels, ours.samples),
          std::make_pair(dc.channels, dc.samples), ours.channels == dc.channels && ours.samples == dc.samples);
  // DASCore keeps times as datetime64[ns] and its step as integer ns: the last sample may be
  // off by the step's rounding times the sample count.
  const double end_slack = 1 + 0.5 * static_cast<double>(dc.samples) + c.time_slack_ns;
  const double step_slack = 0.5 + 1e-6 + 2 * c.time_slack_ns / std::max<double>(1, dc.samples - 1);
  compare(c, kStart, "first sample (ns)", ours.first_ns, dc.first_ns,
          std::fabs(double(ours.first_ns - dc.first_ns)) <= 1 + c.time_slack_ns);
  compare(c, kEnd, "last sample (ns)", ours.last_ns, dc.last_ns, std::fabs(double(ours.last_ns - dc.last_ns)) <= end_slack);
  compare(c, kRate, "time step (ns)", ours.step_ns, dc.step_ns, std::fabs(ours.step_ns - dc.step_ns) <= step_slack);
  compare(c, kDistanceStart, "distance start", ours.distance_start, dc.distance_start,
          std::fabs(ours.distance_start - dc.distance_start) <= 1e-6 * std::max(1.0, std::fabs(dc.distance_start)));
  compare(c, kDistanceStep, "distance step", ours.distance_step, dc.distance_step,
          std::fabs(ours.distance_step - dc.distance_step) <= 1e-9 * std::max(1.0, std::fabs(dc.distance_step)));
  compare(c, kDtype, "dtype", ours.dtype, dc.dtype, ours.dtype == dc.dtype);
  // Every sample both readings hold (the same value, NaN where DASCore has NaN).
  const size_t nc = std::min(ours.channels, dc.channels), nt = std::min(ours.samples, dc.samples);
  size_t differ = 0, first_c = 0, first_t = 0;
  for (size_t ch = 0; ch < nc; ++ch)
    for (size_t t = 0; t < nt; ++t) {
      const float a = ours.values[ch * ours.samples + t], b = dc.values[ch * dc.samples + t];
      if (a == b || (std::isnan(a) && std::isnan(b))) continue;
      if (differ++ == 0) first_c = ch, first_t = t;
    }
  compare(c, kValues, "samples that differ", differ, size_t{0}, differ == 0);
  if (differ && !(c.dascore_wrong & kValues))
    ADD_FAILURE() << "first difference at channel " << first_c << " sample " << first_t << ": dasnet "
                  << ours.values[first_c * ours.samples + first_t] << ", DASCore "
                  << dc.values[first_c * dc.samples + first_t];
}

TEST_P(DascoreAgreement, SameReading) {
  if (!dascore_importable()) GTEST_SKIP() << "skipped: dascore not installed";
  const AgreementCase& c = GetParam();
  size_t index = 0;
  while (cases()[index].name != c.name) ++index;
  const std::string& path = paths_[index];
  const size_t records = inspect_das(path).record_count;
  for (size_t record = 0; record < records; ++record) {
    SCOPED_TRACE(path + " record " + std::to_string(record));
    std::string error, reader;
    const Reading dc = dascore_reading(dump_, index, record, error, &reader);
    if (c.dascore_cannot) {
      std::printf("  DASCore cannot read %s: %s\n", path.c_str(), c.dascore_cannot);
      EXPECT_NE(reader, "DASCore") << "DASCore reads " << path << " now: make this a plain row";
      if (!error.empty()) {
        ASSERT_TRUE(c.file_says) << "no independent reading of " << path << " (" << error << ")";
        continue;
      }
    }
    ASSERT_TRUE(error.empty()) << "DASCore cannot read " << path << ": " << error;
    compare_readings(c, dasnet_reading(path, record), dc);
  }
  std::string error;
  dascore_reading(dump_, index, records, error);
  EXPECT_FALSE(error.empty()) << "DASCore reads more patches than dasnet's " << records << " records";
  if (c.file_says) c.file_says(path);
}

INSTANTIATE_TEST_SUITE_P(Files, DascoreAgreement, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<AgreementCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace dasnet
