// dasnet convert: a window of a record written to DASDAE or PRODML 2.1, read back by dasnet and
// by DASCore (tests/dascore/dump_dascore.py) with every sample equal and the times to the
// nanosecond; several inputs only when they follow each other; bad requests refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "io/das_formats.h"
#include "io/hdf5_util.h"
#include "tests/cli_runner.h"
#include "tests/das_fixtures.h"
#include "tests/real_files.h"

namespace dasnet {
namespace {

namespace fs = std::filesystem;
namespace fx = fixtures;
using testing::CommandResult;
using testing::run_dasnet;

std::string q(const std::string& s) { return "\"" + s + "\""; }

bool dascore_importable() {
  static const bool importable = std::system("python3 -c 'import dascore' >/dev/null 2>&1") == 0;
  return importable;
}

class Convert : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fx::make_temp_dir("convert");
    spec_.channels = 20;
    spec_.samples = 300;  // 500 Hz: 0.6 s
    input_ = dir_ + "/in.h5";
    fx::write_prodml(input_, spec_, "2.0");  // StartLocusIndex 10, spacing 2 m: distances 20..58 m
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_, input_;
  fx::Spec spec_;
};

// Every sample of `out` equals the input's channels [c0, c0 + nc) x samples [t0, t0 + nt).
void expect_same_samples(const std::string& out, const std::vector<std::string>& inputs, size_t c0, size_t nc,
                         size_t t0, size_t nt) {
  const DasRecord got = read_das(out);
  ASSERT_EQ(got.num_channels, nc);
  ASSERT_EQ(got.num_samples, nt);
  size_t done = 0, differ = 0;
  for (const std::string& in : inputs) {
    ReadWindow w;
    w.first_channel = c0;
    w.num_channels = nc;
    w.first_sample = done == 0 ? t0 : 0;
    w.num_samples = std::min(nt - done, inspect_das(in).num_samples - w.first_sample);
    const DasRecord want = read_das(in, w);
    for (size_t c = 0; c < nc; ++c)
      for (size_t t = 0; t < want.num_samples; ++t) differ += got.at(c, done + t) != want.at(c, t);
    done += want.num_samples;
  }
  EXPECT_EQ(done, nt);
  EXPECT_EQ(differ, 0u);
}

TEST_F(Convert, WindowToDasdaeAndProdmlReadsBackExactly) {
  for (const std::string format : {"dasdae", "prodml"}) {
    SCOPED_TRACE(format);
    const std::string out = dir_ + "/out_" + format + ".h5";
    // 0.1 s .. 0.4 s: samples 50..199; 30 m .. 50 m: channels 5..14.
    const CommandResult r = run_dasnet("convert " + q(input_) + " -o " + q(out) + " --format " + format +
                                           " --time 0.1/0.4 --distance 30:50", dir_);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("10 channels x 150 samples"), std::string::npos) << r.out;
    const DasInfo info = inspect_das(out);
    EXPECT_EQ(info.format, format);
    EXPECT_EQ(info.start_time_ns, spec_.start_ns + 50 * 2000000LL);
    EXPECT_EQ(info.end_time_ns(), spec_.start_ns + 199 * 2000000LL);
    EXPECT_DOUBLE_EQ(info.sampling_rate_hz, 500.0);
    EXPECT_DOUBLE_EQ(info.distance_start_m, 30.0);
    EXPECT_DOUBLE_EQ(info.channel_spacing_m, 2.0);
    EXPECT_EQ(info.raw_type, "int16");  // int16 without a scale stays int16
    expect_same_samples(out, {input_}, 5, 10, 50, 150);
  }
}

TEST_F(Convert, DascoreReadsWhatConvertWrites) {
  if (!dascore_importable()) GTEST_SKIP() << "skipped: dascore not installed";
  std::vector<std::string> outs;
  std::vector<std::string> sources = {input_};
  if (fs::exists(fs::path(fx::data_dir()) / "terra15_v5_test_file.hdf5"))  // float32, a real file
    sources.push_back(fx::real_file("terra15_v5_test_file.hdf5"));
  for (size_t s = 0; s < sources.size(); ++s)
    for (const std::string format : {"dasdae", "prodml"}) {
      if (s == 1 && format == "prodml") continue;  // Terra15's distance start is not a whole number of steps
      outs.push_back(dir_ + "/dc_" + std::to_string(s) + "_" + format + ".h5");
      const CommandResult r = run_dasnet("convert " + q(sources[s]) + " -o " + q(outs.back()) + " --format " + format +
                                             " --time 0.1/", dir_);
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
  const std::string dump = dir_ + "/dascore.h5";
  std::string command = "timeout 600 python3 " + std::string(DASNET_SOURCE_DIR) + "/tests/dascore/dump_dascore.py " + q(dump);
  for (const std::string& out : outs) command += " " + q(out);
  ASSERT_EQ(std::system((command + " 2>" + q(dir_ + "/dascore.log")).c_str()), 0) << command;
  h5::File file(dump);
  for (size_t k = 0; k < outs.size(); ++k) {
    SCOPED_TRACE(outs[k]);
    const std::string group = "/file" + std::to_string(k);
    ASSERT_FALSE(file.group(group).has_attr("error")) << file.group(group).attr_string("error");
    const h5::Node patch = file.group(group + "/p0");
    const DasInfo ours = inspect_das(outs[k]);
    const DasRecord values = read_das(outs[k]);
    EXPECT_EQ(patch.attr_int64("time_min"), ours.start_time_ns);
    EXPECT_EQ(patch.attr_int64("time_max"), ours.end_time_ns());
    EXPECT_EQ(static_cast<size_t>(patch.attr_int64("time_len")), ours.num_samples);
    EXPECT_NEAR(patch.attr_number("distance_min"), ours.distance_start_m, 1e-9);
    EXPECT_NEAR(patch.attr_number("distance_step"), ours.channel_spacing_m, 1e-9);
    const bool time_first = patch.attr_string("dims").rfind("time", 0) == 0;
    const h5::Node data = file.dataset(group + "/p0/data");
    const auto shape = data.shape();
    std::vector<float> stored(shape[0] * shape[1]);
    data.read_box(H5T_NATIVE_FLOAT, stored.data(), {0, 0}, {shape[0], shape[1]});
    size_t differ = 0;
    for (size_t c = 0; c < ours.num_channels; ++c)
      for (size_t t = 0; t < ours.num_samples; ++t)
        differ += stored[time_first ? t * shape[1] + c : c * shape[1] + t] != values.at(c, t);
    EXPECT_EQ(differ, 0u);
  }
}

TEST_F(Convert, ContiguousFilesBecomeOneRecordAndAGapIsRefused) {
  fx::Spec next = spec_;
  next.start_ns = spec_.start_ns + static_cast<int64_t>(spec_.samples) * 2000000LL;  // right after the first
  const std::string second = dir_ + "/in2.h5", out = dir_ + "/joined.h5";
  fx::write_prodml(second, next, "2.0");
  // Given out of order: convert orders them by start time.
  CommandResult r = run_dasnet("convert " + q(second) + " " + q(input_) + " -o " + q(out) + " --time 0.5/0.7", dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const DasInfo info = inspect_das(out);
  EXPECT_EQ(info.num_samples, 100u);  // 0.5 s .. 0.7 s spans both files
  EXPECT_EQ(info.start_time_ns, spec_.start_ns + 250 * 2000000LL);
  expect_same_samples(out, {input_, second}, 0, spec_.channels, 250, 100);

  fx::Spec late = next;
  late.start_ns += 1000000000LL;  // a second missing
  const std::string gapped = dir_ + "/in3.h5";
  fx::write_prodml(gapped, late, "2.0");
  r = run_dasnet("convert " + q(input_) + " " + q(gapped) + " -o " + q(dir_ + "/no.h5"), dir_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("gap of 1 s between " + input_ + " and " + gapped), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ + "/no.h5"));
}

TEST_F(Convert, BadRequestsNameTheFlag) {
  CommandResult r = run_dasnet("convert " + q(input_) + " -o " + q(input_), dir_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("-o"), std::string::npos) << r.err;
  r = run_dasnet("convert " + q(input_) + " -o " + q(dir_ + "/o.h5") + " --time 5/6", dir_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--time selects no sample of " + input_), std::string::npos) << r.err;
  r = run_dasnet("convert " + q(input_) + " -o " + q(dir_ + "/o.h5") + " --distance 500:600", dir_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--distance selects no channel"), std::string::npos) << r.err;
  r = run_dasnet("convert " + q(input_) + " -o " + q(dir_ + "/o.h5") + " --format segy", dir_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--format 'segy'"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ + "/o.h5"));
}

TEST_F(Convert, RealProdmlFileToDasdaeKeepsEverySample) {
  if (!fs::exists(fs::path(fx::data_dir()) / "prodml_2.0.h5")) GTEST_SKIP() << "skipped: no real files (DASNET_DATA_DIR)";
  const std::string real = fx::real_file("prodml_2.0.h5"), out = dir_ + "/real.h5";
  const CommandResult r = run_dasnet("convert " + q(real) + " -o " + q(out), dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const DasInfo in = inspect_das(real), got = inspect_das(out);
  EXPECT_EQ(got.start_time_ns, in.start_time_ns);
  EXPECT_EQ(got.end_time_ns(), in.end_time_ns());
  EXPECT_DOUBLE_EQ(got.distance_start_m, in.distance_start_m);
  expect_same_samples(out, {real}, 0, in.num_channels, 0, in.num_samples);
}

}  // namespace
}  // namespace dasnet
