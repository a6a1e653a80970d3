// The non-HDF5 readers (io/binary_format.h) on synthetic files of every layout they accept
// (tests/binary_fixtures.h): exact samples and metadata, windows across segments, and bad
// copies (truncated, corrupted, wrong dtype, missing field) refused naming the file and field,
// with exit 1 from `dasnet inspect`.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <utility>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "io/das_formats.h"
#include "tests/binary_fixtures.h"
#include "tests/cli_runner.h"
#include "tests/reader_test_util.h"

namespace dasnet {
namespace {

namespace fx = fixtures;
using testing::expect_error;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Expects every sample of `rec` to be the fixture's value at its place in the file.
void expect_fixture_values(const DasRecord& rec, bool floating) {
  size_t wrong = 0;
  for (size_t c = 0; c < rec.num_channels; ++c)
    for (size_t t = 0; t < rec.num_samples; ++t)
      if (rec.at(c, t) != fx::binary_value(rec.first_channel + c, rec.first_sample + t, floating) && wrong++ < 3)
        ADD_FAILURE() << "channel " << rec.first_channel + c << " sample " << rec.first_sample + t << ": "
                      << rec.at(c, t) << ", expected " << fx::binary_value(rec.first_channel + c, rec.first_sample + t, floating);
  EXPECT_EQ(wrong, 0u);
}

// Channels 3.. 4 wide, samples 9.. across segment and chunk boundaries.
ReadWindow middle_window(const fx::Spec& spec) {
  ReadWindow w;
  w.first_channel = 3;
  w.num_channels = 4;
  w.first_sample = 9;
  w.num_samples = spec.samples - 20;
  return w;
}

// ---- TDMS ----

struct TdmsCase {
  const char* name;
  fx::TdmsLayout layout;
};

class TdmsLayouts : public testing::ScratchDirTest, public ::testing::WithParamInterface<TdmsCase> {
 protected:
  TdmsLayouts() : ScratchDirTest("tdms") {}
};

fx::Spec tdms_spec() {
  fx::Spec spec;
  spec.channels = 9;
  spec.samples = 60;  // 3 segments x 2 chunks x 10 rows
  return spec;
}

TEST_P(TdmsLayouts, ExactSamplesAndMetadata) {
  const fx::TdmsLayout& layout = GetParam().layout;
  const fx::Spec spec = tdms_spec();
  const std::string file = path("synthetic.tdms");
  fx::write_tdms(file, spec, layout);
  EXPECT_EQ(detect_das_format(file), "tdms");
  const DasInfo info = inspect_das(file);
  EXPECT_EQ(info.format_version, std::to_string(layout.version));
  EXPECT_EQ(info.num_channels, spec.channels);
  EXPECT_EQ(info.num_samples, spec.samples);
  EXPECT_EQ(info.raw_type, layout.float32 ? "float32" : "int16");
  EXPECT_EQ(info.time_axis, layout.interleaved ? 0 : 1);
  EXPECT_EQ(info.start_time_ns, spec.start_ns);
  EXPECT_DOUBLE_EQ(info.sampling_rate_hz, spec.rate_hz);
  EXPECT_DOUBLE_EQ(info.channel_spacing_m, spec.spacing_m);
  EXPECT_DOUBLE_EQ(info.distance_start_m, layout.start_position_m);
  EXPECT_DOUBLE_EQ(info.gauge_length_m, spec.gauge_m);
  expect_fixture_values(read_das(file), layout.float32);
  const DasRecord window = read_das(file, middle_window(spec));
  EXPECT_EQ(window.num_channels, 4u);
  EXPECT_EQ(window.start_time_ns, spec.start_ns + static_cast<int64_t>(9 * 1e9 / spec.rate_hz));
  EXPECT_DOUBLE_EQ(window.distance_start_m, layout.start_position_m + 3 * spec.spacing_m);
  expect_fixture_values(window, layout.float32);
}

fx::TdmsLayout tdms_layout(uint32_t version, bool interleaved, bool float32, double multiplier = 1) {
  fx::TdmsLayout l;
  l.version = version;
  l.interleaved = interleaved;
  l.float32 = float32;
  l.length_multiplier = multiplier;
  return l;
}

INSTANTIATE_TEST_SUITE_P(
    Synthetic, TdmsLayouts,
    ::testing::Values(TdmsCase{"v4713_interleaved_int16", tdms_layout(4713, true, false)},
                      TdmsCase{"v4713_chunked_int16", tdms_layout(4713, false, false)},
                      TdmsCase{"v4713_interleaved_float32", tdms_layout(4713, true, true)},
                      TdmsCase{"v4713_chunked_float32", tdms_layout(4713, false, true, 1.25)},
                      TdmsCase{"v4712_interleaved_int16", tdms_layout(4712, true, false, 0.5)},
                      TdmsCase{"v4712_chunked_int16", tdms_layout(4712, false, false)},
                      TdmsCase{"v4712_interleaved_float32", tdms_layout(4712, true, true)},
                      TdmsCase{"v4712_chunked_float32", tdms_layout(4712, false, true)}),
    [](const ::testing::TestParamInfo<TdmsCase>& info) { return std::string(info.param.name); });

class TdmsBadFiles : public testing::ScratchDirTest {
 protected:
  TdmsBadFiles() : ScratchDirTest("tdms-bad") {}
  void SetUp() override {
    ScratchDirTest::SetUp();
    good_ = path("good.tdms");
    fx::write_tdms(good_, tdms_spec(), tdms_layout(4713, false, false));
    bytes_ = slurp(good_);
  }
  std::string with(const std::string& name, const std::string& bytes) const {
    const std::string p = path(name);
    fx::write_bytes(p, bytes);
    return p;
  }
  size_t find(const std::string& needle) const {
    const size_t at = bytes_.find(needle);
    EXPECT_NE(at, std::string::npos) << needle;
    return at;
  }
  std::string good_, bytes_;
};

TEST_F(TdmsBadFiles, RefusedNamingFileAndField) {
  // Truncated inside the last segment's raw data.
  const std::string cut = with("cut.tdms", bytes_.substr(0, bytes_.size() - 7));
  expect_error([&] { inspect_das(cut); }, cut, "runs past the end of the file");
  // A later segment's lead-in overwritten.
  std::string corrupt = bytes_;
  const size_t second = corrupt.find("TDSm", 4);
  ASSERT_NE(second, std::string::npos);
  corrupt[second + 1] = 'X';
  const std::string bad_tag = with("tag.tdms", corrupt);
  expect_error([&] { inspect_das(bad_tag); }, bad_tag, "lead-in tag is not TDSm");
  // Channel 0 stored as uint8 (wrong dtype).
  std::string bytes_u8 = bytes_;
  const size_t channel = find("/'Measurement'/'0'") + std::string("/'Measurement'/'0'").size();
  bytes_u8[channel + 4] = 5;
  const std::string bad_type = with("dtype.tdms", bytes_u8);
  expect_error([&] { inspect_das(bad_type); }, bad_type, "channel /'Measurement'/'0': raw data of tdsDataType 5");
  // GPSTimeStamp missing (renamed).
  std::string unnamed = bytes_;
  unnamed[find("GPSTimeStamp")] = 'X';
  const std::string no_time = with("no_time.tdms", unnamed);
  expect_error([&] { inspect_das(no_time); }, no_time, "property 'GPSTimeStamp': missing");
  // A property length past the metadata.
  std::string long_name = bytes_;
  const size_t name = find("StartPosition[m]") - 4;
  long_name[name + 3] = 0x7f;
  const std::string bad_length = with("length.tdms", long_name);
  expect_error([&] { inspect_das(bad_length); }, bad_length, "runs past the metadata");
  // A segment whose raw data index states more values than its bytes hold.
  std::string values = bytes_;
  const size_t count = channel + 12;  // u32 length, type, dimension, then u64 values
  values[count + 2] = 0x10;
  const std::string bad_count = with("count.tdms", values);
  expect_error([&] { inspect_das(bad_count); }, bad_count, "values per chunk differ");

  for (const std::string& bad : {cut, bad_tag, bad_type, no_time}) {
    const testing::CommandResult r = testing::run_dasnet("inspect '" + bad + "'", dir_);
    EXPECT_EQ(r.exit_code, 1) << bad << ": " << r.err;
    EXPECT_NE(r.err.find(bad), std::string::npos) << r.err;
  }
}

TEST_F(TdmsBadFiles, InspectCommandDescribesIt) {
  const testing::CommandResult r = testing::run_dasnet("inspect '" + good_ + "'", dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("tdms"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("4713"), std::string::npos) << r.out;
}

// ---- SEG-Y (io/format_segy.cpp) ----

fx::Spec small_binary_spec() {
  fx::Spec spec;
  spec.channels = 11;
  spec.samples = 40;
  spec.rate_hz = 250;  // 4000 us
  return spec;
}

class SegyFiles : public testing::ScratchDirTest {
 protected:
  SegyFiles() : ScratchDirTest("segy") {}
  void SetUp() override {
#ifndef DASNET_HAVE_SEGYIO
    GTEST_SKIP() << "skipped: dasnet built without segyio (libsegyio-dev)";
#endif
    ScratchDirTest::SetUp();
  }
};

TEST_F(SegyFiles, EveryFormatCodeExactly) {
  const fx::Spec spec = small_binary_spec();
  for (const auto& [code, type] : std::vector<std::pair<int, std::string>>{
           {1, "float32"}, {2, "int32"}, {3, "int16"}, {5, "float32"}}) {
    SCOPED_TRACE("format code " + std::to_string(code));
    const std::string file = path("f" + std::to_string(code) + ".sgy");
    fx::SegyLayout layout;
    layout.format = code;
    fx::write_segy(file, spec, layout);
    EXPECT_EQ(detect_das_format(file), "segy");
    const DasInfo info = inspect_das(file);
    EXPECT_EQ(info.format_version, "1.0");
    EXPECT_EQ(info.raw_type, type);
    EXPECT_EQ(info.num_channels, spec.channels);
    EXPECT_EQ(info.num_samples, spec.samples);
    EXPECT_EQ(info.time_axis, 1);
    EXPECT_EQ(info.start_time_ns, fx::segy_start_ns(spec));
    EXPECT_DOUBLE_EQ(info.sampling_rate_hz, spec.rate_hz);
    EXPECT_EQ(info.distance_units, "");  // channel numbers
    const bool floating = code == 1 || code == 5;
    expect_fixture_values(read_das(file), floating);
    expect_fixture_values(read_das(file, middle_window(spec)), floating);
  }
}

TEST_F(SegyFiles, BadFilesNameFileAndField) {
  const fx::Spec spec = small_binary_spec();
  const std::string good = path("good.sgy");
  fx::write_segy(good, spec);
  const std::string bytes = slurp(good);
  auto with = [&](const std::string& name, std::string content) {
    fx::write_bytes(path(name), content);
    return path(name);
  };
  // Truncated mid-trace.
  const std::string cut = with("cut.sgy", bytes.substr(0, bytes.size() - 10));
  expect_error([&] { inspect_das(cut); }, cut, "traces: the file is not its headers plus whole");
  // A format code segyio cannot convert (6: IEEE double would change the trace size).
  std::string eight = bytes;
  eight[3200 + 25] = 4;  // obsolete fixed point with gain, 4 bytes
  const std::string bad_code = with("code.sgy", eight);
  expect_error([&] { inspect_das(bad_code); }, bad_code, "binary header data sample format code: 4");
  // Trace 0's day of year out of range.
  std::string day = bytes;
  day[3600 + 158] = 0x7f;
  const std::string bad_day = with("day.sgy", day);
  expect_error([&] { inspect_das(bad_day); }, bad_day, "trace 0 header DayOfYear");
  // Interval missing in both headers.
  std::string no_interval = bytes;
  no_interval[3200 + 16] = no_interval[3200 + 17] = 0;
  no_interval[3600 + 116] = no_interval[3600 + 117] = 0;
  const std::string bad_interval = with("interval.sgy", no_interval);
  expect_error([&] { inspect_das(bad_interval); }, bad_interval, "sample interval: missing");
  // Trace headers disagreeing with the binary header.
  const std::string disagree = path("disagree.sgy");
  fx::SegyLayout layout;
  layout.trace_interval_us = 2000;
  fx::write_segy(disagree, spec, layout);
  expect_error([&] { inspect_das(disagree); }, disagree, "TRACE_SAMPLE_INTERVAL");
  for (const std::string& bad : {cut, bad_code, bad_day, bad_interval}) {
    const testing::CommandResult r = testing::run_dasnet("inspect '" + bad + "'", dir_);
    EXPECT_EQ(r.exit_code, 1) << bad << ": " << r.err;
    EXPECT_NE(r.err.find(bad), std::string::npos) << r.err;
  }
}

// ---- miniSEED (io/format_mseed.cpp) ----

class MseedFiles : public testing::ScratchDirTest {
 protected:
  MseedFiles() : ScratchDirTest("mseed") {}
  void SetUp() override {
#ifndef DASNET_HAVE_MSEED
    GTEST_SKIP() << "skipped: dasnet built without libmseed (libmseed-dev)";
#endif
    ScratchDirTest::SetUp();
  }
};

TEST_F(MseedFiles, StreamsAsChannelsExactly) {
  fx::Spec spec = small_binary_spec();
  spec.samples = 700;  // several 512-byte records per stream
  for (const bool float32 : {false, true}) {
    SCOPED_TRACE(float32 ? "float32" : "steim2 int32");
    const std::string file = path(float32 ? "f.mseed" : "i.mseed");
    fx::MseedLayout layout;
    layout.float32 = float32;
    fx::write_mseed(file, spec, layout);
    EXPECT_EQ(detect_das_format(file), "mseed");
    const DasInfo info = inspect_das(file);
    EXPECT_EQ(info.record_count, 1u);
    EXPECT_EQ(info.num_channels, spec.channels);
    EXPECT_EQ(info.num_samples, spec.samples);
    EXPECT_EQ(info.raw_type, float32 ? "float32" : "int32");
    EXPECT_EQ(info.start_time_ns, fx::mseed_start_ns(spec));
    EXPECT_DOUBLE_EQ(info.sampling_rate_hz, spec.rate_hz);
    EXPECT_NE(info.data_path.find(fx::mseed_stream(0)), std::string::npos) << info.data_path;
    expect_fixture_values(read_das(file), float32);
    ReadWindow w = middle_window(spec);
    expect_fixture_values(read_das(file, w), float32);
  }
}

TEST_F(MseedFiles, StaggeredStreamsAreRecordsOfTheirOwn) {
  fx::Spec spec = small_binary_spec();
  spec.channels = 3;
  fx::MseedLayout layout;
  layout.stagger_ns = 1000000000;
  const std::string file = path("staggered.mseed");
  fx::write_mseed(file, spec, layout);
  const DasInfo info = inspect_das(file);
  ASSERT_EQ(info.record_count, 3u);
  for (size_t k = 0; k < 3; ++k) {
    const DasInfo r = inspect_das(file, k);
    EXPECT_EQ(r.num_channels, 1u);
    EXPECT_EQ(r.record_name, fx::mseed_stream(k));
    EXPECT_EQ(r.start_time_ns, fx::mseed_start_ns(spec) + int64_t(k) * layout.stagger_ns);
    ReadWindow w;
    w.record = k;
    const DasRecord rec = read_das(file, w);
    for (size_t t = 0; t < rec.num_samples; ++t) ASSERT_EQ(rec.at(0, t), fx::binary_value(k, t, false));
  }
  expect_error([&] { inspect_das(file, 3); }, file, "the file holds 3 records");
}

TEST_F(MseedFiles, GapsAndBadRecordsNameTheFile) {
  fx::Spec spec = small_binary_spec();
  spec.samples = 700;
  fx::MseedLayout layout;
  layout.gap_after = 300;
  const std::string gap = path("gap.mseed");
  fx::write_mseed(gap, spec, layout);
  expect_error([&] { inspect_das(gap); }, gap, "stream " + fx::mseed_stream(0) + ": a gap, overlap or change of rate after");
  const std::string good = path("good.mseed");
  fx::write_mseed(good, spec);
  const std::string bytes = slurp(good);
  const std::string cut = path("cut.mseed");
  fx::write_bytes(cut, bytes.substr(0, bytes.size() - 100));
  expect_error([&] { inspect_das(cut); }, cut, "miniSEED records");
  std::string corrupt = bytes;
  for (size_t k = 48; k < 64; ++k) corrupt[512 * 3 + k] = '\x7f';  // blockette 1000 of record 3
  for (size_t k = 200; k < 204; ++k) corrupt[512 * 5 + k] ^= 0x5a;  // a Steim-2 frame of record 5
  const std::string bad = path("bad.mseed");
  fx::write_bytes(bad, corrupt);
  // A corrupted blockette: refused naming the file, or (where libmseed still decodes the
  // record) the exact samples; never silently different ones.
  try {
    expect_fixture_values(read_das(bad), false);
    std::printf("  corrupted blockette 1000: libmseed still decodes the record exactly\n");
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
  }
  for (const std::string& f : {gap, cut}) {
    const testing::CommandResult r = testing::run_dasnet("inspect '" + f + "'", dir_);
    EXPECT_EQ(r.exit_code, 1) << f << ": " << r.err;
    EXPECT_NE(r.err.find(f), std::string::npos) << r.err;
  }
}

// ---- Sentek (io/format_sentek.cpp) ----

class SentekFiles : public testing::ScratchDirTest {
 protected:
  SentekFiles() : ScratchDirTest("sentek") {}
};

TEST_F(SentekFiles, LayoutExactly) {
  const fx::Spec spec = small_binary_spec();  // start 2023-05-24T12:34:56.123456Z
  fx::SentekLayout layout;
  layout.uneven_m = 0.6;
  const std::string file = path("DASDMSShot00_20230524123456123.das");
  fx::write_sentek(file, spec, layout);
  EXPECT_EQ(detect_das_format(file), "sentek");
  const DasInfo info = inspect_das(file);
  EXPECT_EQ(info.num_channels, spec.channels);
  EXPECT_EQ(info.num_samples, spec.samples);
  EXPECT_EQ(info.time_axis, 0);
  EXPECT_EQ(info.units, "strain rate");
  EXPECT_TRUE(info.start_time_known);
  EXPECT_EQ(info.start_time_ns, 1684931696123000000LL + 1000250000000LL);
  EXPECT_NEAR(info.sampling_rate_hz, spec.rate_hz, 1e-9);
  EXPECT_FLOAT_EQ(info.distance_start_m, 3);
  EXPECT_NEAR(info.channel_spacing_m, spec.spacing_m + 0.6 / (spec.channels - 1), 1e-5);
  expect_fixture_values(read_das(file), true);
  expect_fixture_values(read_das(file, middle_window(spec)), true);
  // Renamed: the same content, still Sentek, but no start time.
  const std::string renamed = path("renamed.bin");
  fx::copy_file(file, renamed);
  EXPECT_EQ(detect_das_format(renamed), "sentek");
  EXPECT_FALSE(inspect_das(renamed).start_time_known);
}

TEST_F(SentekFiles, BadFilesNameFileAndField) {
  const fx::Spec spec = small_binary_spec();
  const std::string good = path("X_20230524123456123.das");
  fx::write_sentek(good, spec);
  const std::string bytes = slurp(good);
  const std::string cut = path("cut_20230524123456123.das");
  fx::write_bytes(cut, bytes.substr(0, bytes.size() - 4));
  expect_error([&] { inspect_das(cut); }, cut, "header sensor_num / measurement_count");
  auto with_float = [&](const std::string& name, size_t index, float v) {
    std::string b = bytes;
    std::memcpy(b.data() + 4 * index, &v, 4);
    fx::write_bytes(path(name), b);
    return path(name);
  };
  const std::string bad_interval = with_float("interval_20230524123456123.das", 2, -4);
  expect_error([&] { inspect_das(bad_interval); }, bad_interval, "header sampling_interval");
  const std::string bad_times = with_float("times_20230524123456123.das", 6 + spec.channels + spec.samples - 1, 9e6f);
  expect_error([&] { inspect_das(bad_times); }, bad_times, "sample times");
  const std::string bad_distance = with_float("dist_20230524123456123.das", 6 + spec.channels - 1, -50);
  expect_error([&] { inspect_das(bad_distance); }, bad_distance, "channel distances");
  for (const std::string& f : {cut, bad_interval, bad_times, bad_distance}) {
    const testing::CommandResult r = testing::run_dasnet("inspect '" + f + "'", dir_);
    EXPECT_EQ(r.exit_code, 1) << f << ": " << r.err;
    EXPECT_NE(r.err.find(f), std::string::npos) << r.err;
  }
}

// ---- Sintela binary v3 (io/format_sintela.cpp) ----

class SintelaFiles : public testing::ScratchDirTest {
 protected:
  SintelaFiles() : ScratchDirTest("sintela") {}
};

TEST_F(SintelaFiles, PacketsExactly) {
  const fx::Spec spec = small_binary_spec();
  const std::string file = path("onyx.raw");
  fx::write_sintela(file, spec);
  EXPECT_EQ(detect_das_format(file), "sintela_binary");
  const DasInfo info = inspect_das(file);
  EXPECT_EQ(info.num_channels, spec.channels);
  EXPECT_EQ(info.num_samples, spec.samples);
  EXPECT_EQ(info.start_time_ns, spec.start_ns);
  EXPECT_DOUBLE_EQ(info.sampling_rate_hz, spec.rate_hz);
  EXPECT_DOUBLE_EQ(info.channel_spacing_m, spec.spacing_m);
  EXPECT_DOUBLE_EQ(info.distance_start_m, 4 * spec.spacing_m / 2);
  EXPECT_EQ(info.channel_step, 2u);
  EXPECT_EQ(info.units, "microstrain/s");
  expect_fixture_values(read_das(file), true);
  expect_fixture_values(read_das(file, middle_window(spec)), true);
}

TEST_F(SintelaFiles, BadFilesNameFileAndField) {
  const fx::Spec spec = small_binary_spec();
  fx::SintelaLayout layout;
  layout.gap_packet = 2;
  const std::string gap = path("gap.raw");
  fx::write_sintela(gap, spec, layout);
  expect_error([&] { inspect_das(gap); }, gap, "packet 2 header: starts at");
  const std::string good = path("good.raw");
  fx::write_sintela(good, spec);
  const std::string bytes = slurp(good);
  const std::string cut = path("cut.raw");
  fx::write_bytes(cut, bytes.substr(0, bytes.size() - 3));
  expect_error([&] { inspect_das(cut); }, cut, "not a whole number of");
  const size_t packet = 96 + 4 * spec.channels * 10;
  std::string sync = bytes;
  sync[packet * 3] = 0;
  const std::string bad_sync = path("sync.raw");
  fx::write_bytes(bad_sync, sync);
  expect_error([&] { inspect_das(bad_sync); }, bad_sync, "packet 3 header: sync word");
  std::string rate = bytes;
  const float negative = -5;
  std::memcpy(rate.data() + 36, &negative, 4);
  const std::string bad_rate = path("rate.raw");
  fx::write_bytes(bad_rate, rate);
  expect_error([&] { inspect_das(bad_rate); }, bad_rate, "packet 0 header sample_rate");
  for (const std::string& f : {gap, cut, bad_sync, bad_rate}) {
    const testing::CommandResult r = testing::run_dasnet("inspect '" + f + "'", dir_);
    EXPECT_EQ(r.exit_code, 1) << f << ": " << r.err;
    EXPECT_NE(r.err.find(f), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace dasnet
