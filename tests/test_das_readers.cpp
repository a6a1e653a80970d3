// DAS file readers: each vendor layout (synthetic fixtures), the two real instrument files
// (checked against independent raw HDF5 reads), windows, and every kind of bad input.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/das_formats.h"
#include "io/das_time.h"
#include "tests/das_fixtures.h"
#include "tests/reader_test_util.h"
#include "tests/real_files.h"

namespace dasnet {
namespace {

namespace fx = fixtures;
namespace fs = std::filesystem;

using fixtures::data_dir;
using fixtures::real_file;

class DasReaders : public testing::ScratchDirTest {};
using testing::expect_error;

// The record equals fx::value * scale everywhere.
void expect_fixture_values(const DasRecord& rec, double scale, size_t c0 = 0, size_t t0 = 0) {
  for (size_t c = 0; c < rec.num_channels; ++c)
    for (size_t t = 0; t < rec.num_samples; ++t)
      ASSERT_FLOAT_EQ(rec.at(c, t), static_cast<float>(fx::value(c0 + c, t0 + t) * scale))
          << "channel " << c << " sample " << t;
}

void expect_window_matches_full(const std::string& file) {
  const DasRecord full = read_das(file);
  ReadWindow w;
  w.first_channel = full.num_channels / 3;
  w.num_channels = full.num_channels / 2;
  w.first_sample = full.num_samples / 4;
  w.num_samples = full.num_samples / 2;
  const DasRecord part = read_das(file, w);
  ASSERT_EQ(part.num_channels, w.num_channels);
  ASSERT_EQ(part.num_samples, w.num_samples);
  EXPECT_EQ(part.first_channel, w.first_channel);
  EXPECT_EQ(part.first_sample, w.first_sample);
  EXPECT_NEAR(part.start_time_ns - full.start_time_ns, w.first_sample * 1e9 / full.sampling_rate_hz, 1.0);
  EXPECT_NEAR(part.distance_start_m, full.distance_start_m + w.first_channel * full.channel_spacing_m, 1e-9);
  for (size_t c = 0; c < part.num_channels; ++c)
    for (size_t t = 0; t < part.num_samples; ++t)
      ASSERT_EQ(part.at(c, t), full.at(c + w.first_channel, t + w.first_sample)) << file << " c=" << c << " t=" << t;
}

void expect_common(const DasInfo& info, const fx::Spec& spec) {
  EXPECT_EQ(info.num_channels, spec.channels);
  EXPECT_EQ(info.num_samples, spec.samples);
  EXPECT_NEAR(info.sampling_rate_hz, spec.rate_hz, 1e-6 * spec.rate_hz);
  EXPECT_NEAR(info.channel_spacing_m, spec.spacing_m, 1e-9);
  EXPECT_NEAR(info.gauge_length_m, spec.gauge_m, 1e-9);
}

// ---- time stamps ------------------------------------------------------------------------

TEST(DasTime, ParsesIsoAndDayFirstStamps) {
  EXPECT_EQ(parse_iso8601_ns("1970-01-01T00:00:00.000000+00:00"), 0);
  EXPECT_EQ(parse_iso8601_ns("2023-05-24T12:34:56.123456Z"), 1684931696123456000LL);
  EXPECT_EQ(parse_iso8601_ns("2023-05-24T14:34:56.123456+02:00"), 1684931696123456000LL);
  EXPECT_EQ(parse_iso8601_ns("2023-05-24 12:34:56.123456789"), 1684931696123456789LL);
  EXPECT_EQ(parse_day_first_ns("24/05/2023 12:34:56.123456 (UTC)"), 1684931696123456000LL);
  EXPECT_EQ(parse_time_ns("24/05/2023 12:34:56"), 1684931696000000000LL);
  EXPECT_FALSE(parse_iso8601_ns("2023-13-01T00:00:00"));
  EXPECT_FALSE(parse_iso8601_ns("yesterday"));
  EXPECT_FALSE(parse_day_first_ns("2023/05/24 12:00:00"));
  EXPECT_EQ(format_iso8601_ns(1684931696123456000LL), "2023-05-24T12:34:56.123456Z");
  EXPECT_EQ(format_iso8601_ns(-1), "1969-12-31T23:59:59.999999999Z");
  EXPECT_EQ(seconds_to_ns(1661296194.373804), 1661296194373804000LL);
}

// ---- each layout --------------------------------------------------------------------------

TEST_F(DasReaders, DsiMatFilesOfEachKey) {
  fx::Spec spec;
  spec.channels = 20;
  spec.samples = 300;
  for (const char* key : {"dsi30", "variable", "data"}) {
    const std::string file = path(std::string(key) + ".mat");
    fx::write_dsi_mat(file, spec, key);
    EXPECT_EQ(detect_das_format(file), "dsi-mat");
    const DasInfo info = inspect_das(file);
    EXPECT_EQ(info.num_channels, spec.channels);
    EXPECT_EQ(info.num_samples, spec.samples);
    EXPECT_DOUBLE_EQ(info.sampling_rate_hz, 500.0);  // fh[7] (0-based) = 1/500 s
    EXPECT_EQ(info.data_path, std::string("/") + key + "/dat");
    EXPECT_EQ(info.stored_order, "channel x time");
    EXPECT_EQ(info.raw_type, "int16");
    EXPECT_EQ(info.format_version, "7.3");
    EXPECT_FALSE(info.start_time_known);
    const DasRecord rec = read_das(file);
    expect_fixture_values(rec, 1.0);
    expect_window_matches_full(file);
  }
}

TEST_F(DasReaders, DsiMatWithoutSampleIntervalIsRefused) {
  const std::string file = path("short_fh.mat");
  fx::write_dsi_mat(file, fx::Spec{});
  fx::replace_dataset(file, "/dsi30/fh", {1, 5});
  expect_error([&] { inspect_das(file); }, file, "/dsi30/fh");
}

// ---- the plain layouts, one table --------------------------------------------------------------
// Each row writes a fixture as the instrument's software does and checks what every plain layout
// must give: the detected format, the axes (expect_common), the start time, where the fiber
// starts, the units, every sample (fx::value * value_scale) and a window against the full read.
// A new format whose record is that plain: one row in layout_cases() (its writer goes in
// tests/das_fixtures.*; checks only it needs go in `more_checks`). Layouts with more to them
// (scaling, blocks, several keys) keep their own tests below.
struct LayoutCase {
  std::string name;    // the test's name
  std::string file;    // the fixture's file name (its extension as the vendor's)
  std::string format;  // what detect_das_format says
  fx::Spec spec;
  std::function<void(const std::string& file, const fx::Spec& spec)> write;
  double distance_start_m = std::numeric_limits<double>::quiet_NaN();  // NaN: not checked
  std::string units;                // empty: not checked
  double start_time_within_ns = 0;  // 0: exactly spec.start_ns (files that store nanoseconds)
  double value_scale = 1.0;
  std::function<void(const DasInfo&, const fx::Spec&)> more_checks = [](const DasInfo&, const fx::Spec&) {};
};

LayoutCase layout(std::string name, std::string file, std::string format, fx::Spec spec,
                  std::function<void(const std::string&, const fx::Spec&)> write) {
  LayoutCase c;
  c.name = std::move(name);
  c.file = std::move(file);
  c.format = std::move(format);
  c.spec = spec;
  c.write = std::move(write);
  return c;
}

fx::Spec spec_of(size_t channels, size_t samples, double rate_hz = fx::Spec{}.rate_hz) {
  fx::Spec spec;
  spec.channels = channels;
  spec.samples = samples;
  spec.rate_hz = rate_hz;
  return spec;
}

std::vector<LayoutCase> layout_cases() {
  std::vector<LayoutCase> cases;
  {
    LayoutCase c = layout("Prodml20TimeMajorChunked", "prodml20.h5", "prodml", spec_of(37, 1000),
                          [](const std::string& f, const fx::Spec& s) { fx::write_prodml(f, s, "2.0", true, 128); });
    c.distance_start_m = 10 * c.spec.spacing_m;
    c.units = "(nm/m)/s";
    c.more_checks = [](const DasInfo& info, const fx::Spec&) {
      EXPECT_EQ(info.format_version, "2.0");
      EXPECT_EQ(info.stored_order, "time x channel");
      EXPECT_EQ(info.first_locus, 10);
      EXPECT_EQ(info.distance_units, "m");
      EXPECT_FALSE(info.processed);
      EXPECT_EQ(info.record_count, 1u);
      EXPECT_EQ(info.time_axis, 0);
    };
    cases.push_back(c);
  }
  {
    // The gauge from MeasuredGaugeLength, the rate from RawDataTime.
    LayoutCase c = layout("Prodml21LocusMajorFromNumberOfLociAndMicrosecondTimes", "prodml21.h5", "prodml",
                          spec_of(16, 250, 1000),
                          [](const std::string& f, const fx::Spec& s) { fx::write_prodml(f, s, "2.1", false); });
    c.more_checks = [](const DasInfo& info, const fx::Spec&) { EXPECT_EQ(info.stored_order, "channel x time"); };
    cases.push_back(c);
  }
  {
    // 120 written of 127 stored rows.
    LayoutCase c = layout("Terra15DropsUnwrittenFrames", "terra15.hdf5", "terra15", spec_of(fx::Spec{}.channels, 120),
                          [](const std::string& f, const fx::Spec& s) { fx::write_terra15(f, s, 7); });
    c.units = "m/s";
    c.start_time_within_ns = 1000;
    c.value_scale = 1e-6;
    c.more_checks = [](const DasInfo& info, const fx::Spec&) { EXPECT_EQ(info.raw_type, "float32"); };
    cases.push_back(c);
  }
  {
    LayoutCase c = layout("ApSensingMetadataFromOneElementDatasets", "ap.hdf5", "ap_sensing", fx::Spec{},
                          [](const std::string& f, const fx::Spec& s) { fx::write_ap_sensing(f, s); });
    c.distance_start_m = 100.0;
    cases.push_back(c);
  }
  {
    // The start is the GPS stamp, not the CPU one.
    LayoutCase c = layout("SilixaH5TextAttributesAndDayFirstTimes", "silixa.h5", "silixa_h5", fx::Spec{},
                          [](const std::string& f, const fx::Spec& s) { fx::write_silixa_h5(f, s); });
    c.distance_start_m = -10.0;
    cases.push_back(c);
  }
  {
    LayoutCase c = layout("Neubrex", "neubrex.h5", "neubrex", fx::Spec{},
                          [](const std::string& f, const fx::Spec& s) { fx::write_neubrex(f, s); });
    c.distance_start_m = -20.0;
    c.units = "rad/s";
    cases.push_back(c);
  }
  {
    LayoutCase c = layout("Gdr", "gdr.h5", "gdr", fx::Spec{},
                          [](const std::string& f, const fx::Spec& s) { fx::write_gdr(f, s); });
    c.units = "strain/s";
    c.more_checks = [](const DasInfo& info, const fx::Spec&) { EXPECT_EQ(info.stored_order, "channel x time"); };
    cases.push_back(c);
  }
  return cases;
}

class PlainLayouts : public testing::ScratchDirTest, public ::testing::WithParamInterface<LayoutCase> {};

TEST_P(PlainLayouts, ReadAsWritten) {
  const LayoutCase& c = GetParam();
  const std::string file = path(c.file);
  c.write(file, c.spec);
  EXPECT_EQ(detect_das_format(file), c.format);
  const DasInfo info = inspect_das(file);
  expect_common(info, c.spec);
  EXPECT_NEAR(static_cast<double>(info.start_time_ns - c.spec.start_ns), 0.0, c.start_time_within_ns);
  if (!std::isnan(c.distance_start_m)) {
    EXPECT_NEAR(info.distance_start_m, c.distance_start_m, 1e-9);
  }
  if (!c.units.empty()) {
    EXPECT_EQ(info.units, c.units);
  }
  c.more_checks(info, c.spec);
  expect_fixture_values(read_das(file), c.value_scale);
  expect_window_matches_full(file);
}

INSTANTIATE_TEST_SUITE_P(Formats, PlainLayouts, ::testing::ValuesIn(layout_cases()),
                         [](const ::testing::TestParamInfo<LayoutCase>& info) { return info.param.name; });

TEST_F(DasReaders, OptoDasAppliesDataScaleAndSensitivity) {
  fx::Spec spec;
  const std::string file = path("optodas.hdf5");
  const double data_scale = 0.25, sensitivity = 8.0;
  fx::write_optodas(file, spec, data_scale, sensitivity);
  EXPECT_EQ(detect_das_format(file), "optodas");
  const DasInfo info = inspect_das(file);
  EXPECT_EQ(info.num_channels, spec.channels);
  EXPECT_EQ(info.num_samples, spec.samples);
  EXPECT_NEAR(info.sampling_rate_hz, spec.rate_hz, 1e-6);
  EXPECT_NEAR(info.channel_spacing_m, spec.spacing_m, 1e-9);  // stride 2 x dx
  EXPECT_NEAR(info.distance_start_m, 100 * spec.spacing_m / 2, 1e-9);
  EXPECT_DOUBLE_EQ(info.scale_factor, data_scale / sensitivity);
  EXPECT_TRUE(info.scale_stated);
  EXPECT_EQ(info.channel_step, 2u);  // every 2nd sensing point kept
  EXPECT_EQ(info.first_locus, 100);
  EXPECT_EQ(info.units, "strain/s");
  EXPECT_NEAR(static_cast<double>(info.start_time_ns - spec.start_ns), 0.0, 1000.0);
  const DasRecord rec = read_das(file);
  expect_fixture_values(rec, data_scale / sensitivity);
  EXPECT_EQ(rec.channel_step, 2u);
  ReadWindow w;
  w.first_channel = 3;
  EXPECT_EQ(read_das(file, w).first_locus, 106);  // locus of stored channel 3
  expect_window_matches_full(file);
}

TEST_F(DasReaders, FebusBlocksAreTrimmedToOneContinuousRecord) {
  fx::Spec spec;
  spec.channels = 9;
  spec.rate_hz = 1000;
  const size_t blocks = 5, block_rows = 40, overlap = 10;
  spec.samples = blocks * block_rows;
  const std::string file = path("febus.h5");
  fx::write_febus(file, spec, blocks, block_rows, overlap);
  EXPECT_EQ(detect_das_format(file), "febus");
  const DasInfo info = inspect_das(file);
  expect_common(info, spec);
  EXPECT_EQ(info.stored_order, "block x time x channel");
  EXPECT_NEAR(static_cast<double>(info.start_time_ns - spec.start_ns), 0.0, 1000.0);
  EXPECT_NEAR(info.distance_start_m, 5.0, 1e-9);
  expect_fixture_values(read_das(file), 1.0);
  expect_window_matches_full(file);
  // A window that straddles block boundaries.
  ReadWindow w;
  w.first_sample = block_rows - 3;
  w.num_samples = 2 * block_rows + 5;
  w.first_channel = 2;
  w.num_channels = 4;
  expect_fixture_values(read_das(file, w), 1.0, 2, block_rows - 3);
}

TEST_F(DasReaders, FebusNewerLayoutWithoutBlockRateAndOddBlocks) {
  fx::Spec spec;
  spec.channels = 5;
  spec.rate_hz = 1000;
  // Blocks of 37 new rows and 3 overlap rows each side; the block times give the block length.
  for (const auto& [block_rows, overlap] : {std::pair<size_t, size_t>{37, 3}, {20, 0}, {16, 8}}) {
    const std::string file = path("febus_new_" + std::to_string(block_rows) + ".h5");
    fx::FebusLayout layout;
    layout.newer = true;
    fx::write_febus(file, spec, 4, block_rows, overlap, layout);
    const DasInfo info = inspect_das(file);
    EXPECT_EQ(info.num_samples, 4 * block_rows) << file;
    EXPECT_NEAR(static_cast<double>(info.start_time_ns - spec.start_ns), 0.0, 1000.0) << file;
    EXPECT_FALSE(info.processed);
    expect_fixture_values(read_das(file), 1.0);
  }
  // One block and no BlockRate: the overlap percent tells the new rows.
  const std::string one = path("febus_one_block.h5");
  fx::FebusLayout layout;
  layout.newer = true;
  fx::write_febus(one, spec, 1, 30, 6, layout);
  EXPECT_EQ(inspect_das(one).num_samples, 30u);
  expect_fixture_values(read_das(one), 1.0);
}

TEST_F(DasReaders, FebusPsdIsAProcessedProductAndGapsAreRefused) {
  fx::Spec spec;
  spec.channels = 4;
  fx::FebusLayout psd;
  psd.name = "PSD [dB re 1 nStrain|sqrt(Hz)]";
  const std::string file = path("febus_psd.h5");
  fx::write_febus(file, spec, 2, 20, 4, psd);
  const DasInfo info = inspect_das(file);
  EXPECT_TRUE(info.processed);
  EXPECT_EQ(info.units, "dB re 1 nStrain/sqrt(Hz)");
  EXPECT_NE(info.product.find("PSD"), std::string::npos);
  expect_error([&] { require_raw_data(info, false, "--allow-processed"); }, file, "processed");

  fx::FebusLayout gap;
  gap.first_block_gap_s = 0.5;
  const std::string gapped = path("febus_gap.h5");
  fx::write_febus(gapped, spec, 3, 20, 4, gap);
  expect_error([&] { inspect_das(gapped); }, gapped, "blocks 0 and 1");
}

TEST_F(DasReaders, GdrDimensionsInAnySpelling) {
  fx::Spec spec;
  const std::vector<std::vector<std::string>> spellings = {
      {"locus", "time"}, {"Locus", "Time"}, {"locus, time"}, {"[locus time]"}, {"locus", "time", "strain rate"},
      {"measured depth", "time (ns)"}, {"channel", "time_ns"}};
  for (const auto& dims : spellings) {
    const std::string file = path("gdr_" + std::to_string(&dims - spellings.data()) + ".h5");
    fx::write_gdr(file, spec, dims);
    const DasInfo info = inspect_das(file);
    EXPECT_EQ(info.time_axis, 1) << dims[0];
    EXPECT_EQ(info.num_channels, spec.channels) << dims[0];
    expect_fixture_values(read_das(file), 1.0);
  }
  for (const std::vector<std::string>& bad : {std::vector<std::string>{"time", "time"},
                                               std::vector<std::string>{"x", "y"}, std::vector<std::string>{"locus"}}) {
    const std::string file = path("gdr_bad.h5");
    fx::write_gdr(file, spec, bad);
    expect_error([&] { inspect_das(file); }, file, "DasDimensions");
  }
}

TEST_F(DasReaders, DetectionIgnoresTheExtension) {
  const std::string file = path("looks_like_terra15.hdf5");
  fx::write_prodml(file, fx::Spec{});
  EXPECT_EQ(detect_das_format(file), "prodml");
  const std::string mat = path("record.h5");
  fx::write_dsi_mat(mat, fx::Spec{}, "variable");
  EXPECT_EQ(detect_das_format(mat), "dsi-mat");
}

TEST_F(DasReaders, ProcessedProductsAreRefusedUnlessAllowed) {
  DasInfo info;
  info.source = "x.h5";
  info.data_path = "/band";
  EXPECT_NO_THROW(require_raw_data(info, false, "--allow-processed"));
  info.processed = true;
  info.product = "FBE band 1";
  expect_error([&] { require_raw_data(info, false, "--allow-processed"); }, "x.h5", "FBE band 1");
  expect_error([&] { require_raw_data(info, false, "--allow-processed"); }, "x.h5", "--allow-processed");
  EXPECT_NO_THROW(require_raw_data(info, true, "--allow-processed"));
}

TEST_F(DasReaders, SingleRecordFilesRefuseOtherRecords) {
  const std::string file = path("one.h5");
  fx::write_prodml(file, fx::Spec{});
  ReadWindow w;
  w.record = 1;
  expect_error([&] { read_das(file, w); }, file, "holds 1 record");
}

TEST_F(DasReaders, NonFiniteSamplesAreKeptAndCounted) {
  fx::Spec spec;
  const std::string file = path("nan.hdf5");
  fx::write_terra15(file, spec, 0);
  fx::set_sample(file, "/data_product/data", 5, 3, std::nan(""));
  fx::set_sample(file, "/data_product/data", 9, 0, std::numeric_limits<double>::infinity());
  const DasRecord rec = read_das(file);
  EXPECT_EQ(rec.non_finite_count, 2u);
  EXPECT_EQ(rec.non_finite_channel_count, 0u);
  EXPECT_TRUE(std::isnan(rec.at(3, 5)));
  EXPECT_TRUE(std::isinf(rec.at(0, 9)));
  ReadWindow w;
  w.first_sample = 10;
  EXPECT_EQ(read_das(file, w).non_finite_count, 0u);
}

// ---- the real instrument files ---------------------------------------------------------------

// Independent raw HDF5 reads for the real-file checks.
struct RawFile {
  explicit RawFile(const std::string& path) {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (id < 0) throw std::runtime_error("raw open failed: " + path);
  }
  ~RawFile() { H5Fclose(id); }
  std::vector<hsize_t> dims(const char* dataset) const {
    hid_t d = H5Dopen2(id, dataset, H5P_DEFAULT);
    hid_t s = H5Dget_space(d);
    std::vector<hsize_t> out(static_cast<size_t>(H5Sget_simple_extent_ndims(s)));
    H5Sget_simple_extent_dims(s, out.data(), nullptr);
    H5Sclose(s);
    H5Dclose(d);
    return out;
  }
  // The 2-D block [r0, r0 + nr) x [c0, c0 + nc) as double, row-major.
  std::vector<double> block(const char* dataset, hsize_t r0, hsize_t nr, hsize_t c0, hsize_t nc) const {
    hid_t d = H5Dopen2(id, dataset, H5P_DEFAULT);
    hid_t fs = H5Dget_space(d);
    const hsize_t start[2] = {r0, c0}, count[2] = {nr, nc};
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, nullptr, count, nullptr);
    hid_t ms = H5Screate_simple(2, count, nullptr);
    std::vector<double> out(nr * nc);
    H5Dread(d, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, out.data());
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
    return out;
  }
  std::vector<double> vector1d(const char* dataset, hsize_t n) const {
    hid_t d = H5Dopen2(id, dataset, H5P_DEFAULT);
    hid_t fs = H5Dget_space(d);
    const hsize_t start = 0;
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, nullptr, &n, nullptr);
    hid_t ms = H5Screate_simple(1, &n, nullptr);
    std::vector<double> out(n);
    H5Dread(d, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, out.data());
    H5Sclose(ms);
    H5Sclose(fs);
    H5Dclose(d);
    return out;
  }
  double attr(const char* object, const char* name) const {
    double v = 0;
    hid_t a = H5Aopen_by_name(id, object, name, H5P_DEFAULT, H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_DOUBLE, &v);
    H5Aclose(a);
    return v;
  }
  hid_t id;
};

TEST(DasRealFiles, Prodml20FromSilixaIdas) {
  const std::string file = real_file("prodml_2.0.h5");
  const char* data = "/Acquisition/Raw[0]/RawData";
  RawFile raw(file);
  const auto dims = raw.dims(data);  // time x locus per the Dimensions attribute
  ASSERT_EQ(dims.size(), 2u);
  EXPECT_EQ(detect_das_format(file), "prodml");
  const DasInfo info = inspect_das(file);
  EXPECT_EQ(info.format_version, "2.0");
  EXPECT_EQ(info.num_samples, dims[0]);
  EXPECT_EQ(info.num_channels, dims[1]);
  EXPECT_EQ(info.raw_type, "int16");
  EXPECT_DOUBLE_EQ(info.sampling_rate_hz, raw.attr("/Acquisition/Raw[0]", "OutputDataRate"));
  EXPECT_DOUBLE_EQ(info.channel_spacing_m, raw.attr("/Acquisition", "SpatialSamplingInterval"));
  EXPECT_DOUBLE_EQ(info.gauge_length_m, raw.attr("/Acquisition", "GaugeLength"));
  // RawDataTime is integer microseconds; its first value is the start.
  const auto times = raw.vector1d("/Acquisition/Raw[0]/RawDataTime", 2);
  EXPECT_EQ(info.start_time_ns, static_cast<int64_t>(times[0]) * 1000);
  EXPECT_NEAR(info.sampling_rate_hz, 1e6 / (times[1] - times[0]), 1e-9);

  const DasRecord rec = read_das(file);
  ASSERT_EQ(rec.num_channels, dims[1]);
  const auto first_rows = raw.block(data, 0, 3, 0, dims[1]);
  for (size_t t = 0; t < 3; ++t)
    for (size_t c = 0; c < dims[1]; ++c) ASSERT_EQ(rec.at(c, t), static_cast<float>(first_rows[t * dims[1] + c]));
  const auto last_row = raw.block(data, dims[0] - 1, 1, 0, dims[1]);
  for (size_t c = 0; c < dims[1]; ++c) ASSERT_EQ(rec.at(c, dims[0] - 1), static_cast<float>(last_row[c]));
  EXPECT_EQ(rec.non_finite_count, 0u);
  expect_window_matches_full(file);
}

TEST(DasRealFiles, Terra15Version5) {
  const std::string file = real_file("terra15_v5_test_file.hdf5");
  const char* data = "/data_product/data";
  RawFile raw(file);
  const auto dims = raw.dims(data);  // time x channel
  ASSERT_EQ(dims.size(), 2u);
  EXPECT_EQ(detect_das_format(file), "terra15");
  const DasInfo info = inspect_das(file);
  EXPECT_EQ(info.format_version, "5");
  EXPECT_EQ(info.num_channels, dims[1]);
  EXPECT_LE(info.num_samples, dims[0]);
  EXPECT_GT(info.num_samples, 0u);
  EXPECT_EQ(info.raw_type, "float32");
  EXPECT_DOUBLE_EQ(info.sampling_rate_hz, 1.0 / raw.attr("/", "dt_computer"));
  EXPECT_DOUBLE_EQ(info.channel_spacing_m, raw.attr("/", "dx"));
  EXPECT_DOUBLE_EQ(info.gauge_length_m, raw.attr("/", "gauge_length"));
  const auto posix = raw.vector1d("/data_product/posix_time", 1);
  EXPECT_NEAR(static_cast<double>(info.start_time_ns) / 1e9, posix[0], 1e-6);
  EXPECT_EQ(info.units, "m/s");

  const DasRecord rec = read_das(file);
  const auto first_rows = raw.block(data, 0, 2, 0, dims[1]);
  for (size_t t = 0; t < 2; ++t)
    for (size_t c = 0; c < dims[1]; ++c) ASSERT_EQ(rec.at(c, t), static_cast<float>(first_rows[t * dims[1] + c]));
  expect_window_matches_full(file);
}

// ---- bad input ----------------------------------------------------------------------------------

TEST_F(DasReaders, MissingAndNonHdf5FilesNameTheFile) {
  const std::string missing = path("nope.h5");
  expect_error([&] { detect_das_format(missing); }, missing, "no such file");
  const std::string text = path("notes.h5");
  fx::write_bytes(text, "time,channel,value\n0,0,1\n");
  expect_error([&] { detect_das_format(text); }, text, "not an HDF5 file");
  const std::string empty = path("empty.h5");
  fx::write_bytes(empty, "");
  expect_error([&] { read_das(empty); }, empty, "empty file");
  const std::string v5 = path("old.mat");
  fx::write_bytes(v5, std::string("MATLAB 5.0 MAT-file, Platform: GLNXA64") + std::string(200, ' '));
  expect_error([&] { inspect_das(v5); }, v5, "v7.3");
}

TEST_F(DasReaders, TruncatedAndCorruptedCopiesOfRealFiles) {
  for (const char* name : {"prodml_2.0.h5", "terra15_v5_test_file.hdf5"}) {
    const std::string original = real_file(name);
    const size_t size = fx::file_size(original);
    for (size_t keep : {size / 2, size_t{4096}, size_t{100}}) {
      const std::string copy = path(std::string("trunc_") + std::to_string(keep) + "_" + name);
      fx::copy_file(original, copy);
      fx::truncate_file(copy, keep);
      expect_error([&] { read_das(copy); }, copy, "");
      expect_error([&] { inspect_das(copy); }, copy, "");
    }
    // A broken superblock signature.
    const std::string broken = path(std::string("sig_") + name);
    fx::copy_file(original, broken);
    {
      std::fstream f(broken, std::ios::in | std::ios::out | std::ios::binary);
      f.write("XXXX", 4);
    }
    expect_error([&] { detect_das_format(broken); }, broken, "not an HDF5 file");
  }
}

TEST_F(DasReaders, MissingDatasetsAndAttributesAreNamed) {
  const std::string a = path("no_spacing.h5");
  fx::write_prodml(a, fx::Spec{});
  fx::delete_attribute(a, "/Acquisition", "SpatialSamplingInterval");
  expect_error([&] { inspect_das(a); }, a, "SpatialSamplingInterval");

  const std::string b = path("no_rate.h5");
  fx::write_prodml(b, fx::Spec{}, "2.1");
  fx::delete_object(b, "/Acquisition/Raw[0]/RawDataTime");
  expect_error([&] { inspect_das(b); }, b, "start time");

  const std::string c = path("no_dx.hdf5");
  fx::write_terra15(c, fx::Spec{});
  fx::delete_attribute(c, "/", "dx");
  expect_error([&] { read_das(c); }, c, "'dx'");

  const std::string d = path("no_posix.hdf5");
  fx::write_terra15(d, fx::Spec{});
  fx::delete_object(d, "/data_product/posix_time");
  expect_error([&] { read_das(d); }, d, "/data_product/posix_time: missing dataset");

  const std::string e = path("no_rate_ap.hdf5");
  fx::write_ap_sensing(e, fx::Spec{});
  fx::delete_object(e, "/ProcessingServer/DataRate");
  expect_error([&] { inspect_das(e); }, e, "/ProcessingServer/DataRate: missing dataset");

  const std::string g = path("no_dims_gdr.h5");
  fx::write_gdr(g, fx::Spec{});
  fx::delete_attribute(g, "/DasRawData/RawData", "DasDimensions");
  expect_error([&] { inspect_das(g); }, g, "DasDimensions");

  const std::string h = path("no_fs.h5");
  fx::write_silixa_h5(h, fx::Spec{});
  fx::delete_attribute(h, "/Acoustic", "SpatialResolution[m]");
  expect_error([&] { inspect_das(h); }, h, "SpatialResolution[m]");
}

TEST_F(DasReaders, WrongTypeRankOrEmptyDataIsRefused) {
  const std::string text = path("text.h5");
  fx::write_prodml(text, fx::Spec{});
  fx::replace_dataset(text, "/Acquisition/Raw[0]/RawData", {64, 12}, /*as_text=*/true);
  expect_error([&] { read_das(text); }, text, "expected numeric samples");

  const std::string rank = path("rank3.h5");
  fx::write_prodml(rank, fx::Spec{});
  fx::replace_dataset(rank, "/Acquisition/Raw[0]/RawData", {4, 64, 12});
  expect_error([&] { read_das(rank); }, rank, "rank 3");

  const std::string empty = path("empty_data.hdf5");
  fx::write_terra15(empty, fx::Spec{});
  fx::replace_dataset(empty, "/data_product/data", {0, 12});
  expect_error([&] { inspect_das(empty); }, empty, "empty data");

  const std::string febus = path("febus2d.h5");
  fx::Spec spec;
  fx::write_febus(febus, spec, 2, 32, 8);
  fx::replace_dataset(febus, "/fa1-00000001/Source1/Zone1/StrainRate", {64, 12});
  expect_error([&] { inspect_das(febus); }, febus, "3-D");
}

TEST_F(DasReaders, UnknownHdf5LayoutIsRefused) {
  const std::string file = path("other.h5");
  fx::write_prodml(file, fx::Spec{});
  fx::delete_object(file, "/Acquisition");
  expect_error([&] { detect_das_format(file); }, file, "unknown DAS format");
  expect_error([&] { read_das(file); }, file, "unknown DAS format");
}

TEST_F(DasReaders, WindowsOutsideTheDataAreRefused) {
  const std::string file = path("w.h5");
  fx::write_prodml(file, fx::Spec{});
  ReadWindow w;
  w.first_channel = 12;
  expect_error([&] { read_das(file, w); }, file, "outside");
  w = ReadWindow{};
  w.first_sample = 10;
  w.num_samples = 60;
  expect_error([&] { read_das(file, w); }, file, "outside");
  w.num_samples = 0;
  expect_error([&] { read_das(file, w); }, file, "empty");
}

}  // namespace
}  // namespace dasnet

namespace dasnet {
namespace {

// Silixa TDMS (io/format_tdms.cpp): the real iDAS file, and truncated or corrupted copies
// refused with the file and the field named.
TEST(DasTdms, RealIdasFileAndBadCopies) {
  const std::string real = fixtures::real_file("iDAS005_tdms_example.626.tdms");
  if (!std::filesystem::exists(real)) GTEST_SKIP() << "skipped: " << real << " not found";
  EXPECT_EQ(detect_das_format(real), "tdms");
  const DasInfo info = inspect_das(real);
  EXPECT_EQ(info.format_version, "4713");
  EXPECT_EQ(info.num_channels, 1152u);
  EXPECT_EQ(info.num_samples, 1000u);
  EXPECT_EQ(info.raw_type, "int16");
  EXPECT_DOUBLE_EQ(info.sampling_rate_hz, 1000);
  const std::string dir = fixtures::make_temp_dir("tdms-bad");
  const std::vector<char> bytes = [&] {
    std::ifstream in(real, std::ios::binary);
    return std::vector<char>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }();
  auto write = [&](const std::string& name, const std::vector<char>& content) {
    const std::string path = dir + "/" + name;
    std::ofstream(path, std::ios::binary).write(content.data(), static_cast<std::streamsize>(content.size()));
    return path;
  };
  const std::string truncated = write("truncated.tdms", std::vector<char>(bytes.begin(), bytes.begin() + 70000));
  expect_error([&] { read_das(truncated); }, truncated, "next segment offset");
  std::vector<char> bad_version = bytes;
  bad_version[8] = 0x01;
  const std::string version = write("version.tdms", bad_version);
  expect_error([&] { inspect_das(version); }, version, "not an HDF5 file, nor Silixa TDMS");
  std::vector<char> no_rate = bytes;
  const std::string key = "SamplingFrequency[Hz]";
  const auto at = std::search(no_rate.begin(), no_rate.end(), key.begin(), key.end());
  ASSERT_NE(at, no_rate.end());
  *at = 'X';
  const std::string missing = write("missing.tdms", no_rate);
  expect_error([&] { inspect_das(missing); }, missing, "property 'SamplingFrequency[Hz]': missing");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace dasnet
