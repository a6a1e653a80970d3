// --time and --distance: one parser (io/das_selection.h) for every command; ISO times or
// seconds from the start, metres, half-open ranges, and a window outside the record refused
// naming the flag. Then the flags on inspect, label, dataset build and infer.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "core/tensor.h"
#include "core/usage_error.h"
#include "io/das_selection.h"
#include "io/das_source.h"
#include "io/hdf5_util.h"
#include "tests/cli_runner.h"
#include "tests/das_fixtures.h"

namespace dasnet {
namespace {

namespace fs = std::filesystem;
namespace fx = fixtures;

// The fixture's record: 12 channels from 20 m every 2 m, 64 samples at 500 Hz from
// 2023-05-24T12:34:56.123456Z.
DasInfo fixture_info() {
  DasInfo info;
  info.source = "rec.h5";
  info.num_channels = 12;
  info.num_samples = 64;
  info.sampling_rate_hz = 500;
  info.channel_spacing_m = 2;
  info.distance_start_m = 20;
  info.start_time_ns = fx::Spec{}.start_ns;
  return info;
}

ReadWindow select(const std::string& time, const std::string& distance) {
  return resolve_selection(fixture_info(), parse_selection({time, distance}));
}

TEST(DasSelection, SecondsIsoTimesAndMetresGiveHalfOpenRanges) {
  ReadWindow w = select("0.01/0.05", "");
  EXPECT_EQ(w.first_sample, 5u);   // 10 ms at 2 ms a sample
  EXPECT_EQ(w.num_samples, 20u);   // samples 5..24: 0.05 s itself is not included
  w = select("2023-05-24T12:34:56.133456Z/2023-05-24T14:34:56.173456+02:00", "");
  EXPECT_EQ(w.first_sample, 5u);   // the same window as ISO times (the end in another zone)
  EXPECT_EQ(w.num_samples, 20u);
  w = select("/0.05", "24:30");
  EXPECT_EQ(w.first_sample, 0u);
  EXPECT_EQ(w.num_samples, 25u);
  EXPECT_EQ(w.first_channel, 2u);  // 24 m and 26 m and 28 m
  EXPECT_EQ(w.num_channels, 3u);
  // Ranges reaching past the record are cut to it.
  w = select("0.1/", "-100:25");
  EXPECT_EQ(w.first_sample, 50u);
  EXPECT_EQ(w.num_samples, 14u);
  EXPECT_EQ(w.first_channel, 0u);
  EXPECT_EQ(w.num_channels, 3u);
  // Adjacent windows tile without sharing a sample.
  const ReadWindow a = select("0/0.02", ""), b = select("0.02/0.04", "");
  EXPECT_EQ(a.first_sample + a.num_samples, b.first_sample);
}

TEST(DasSelection, WindowInfoMovesStartAndDistance) {
  const DasInfo info = window_info(fixture_info(), select("0.01/0.05", "24:30"));
  EXPECT_EQ(info.start_time_ns, fx::Spec{}.start_ns + 10000000);
  EXPECT_EQ(info.num_samples, 20u);
  EXPECT_EQ(info.num_channels, 3u);
  EXPECT_DOUBLE_EQ(info.distance_start_m, 24.0);
}

void expect_usage_error(const std::string& time, const std::string& distance, const std::string& words) {
  try {
    select(time, distance);
    ADD_FAILURE() << "accepted --time '" << time << "' --distance '" << distance << "'";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
  }
}

TEST(DasSelection, BadRangesNameTheFlag) {
  expect_usage_error("10", "", "--time '10': expected START/END");
  expect_usage_error("yesterday/now", "", "'yesterday' is neither an ISO-8601 time");
  expect_usage_error("0.05/0.01", "", "--time '0.05/0.01': END must be after START");
  expect_usage_error("/", "", "both ends empty");
  expect_usage_error("", "30", "--distance '30': expected A:B");
  expect_usage_error("", "a:b", "'a' is not a number of metres");
  expect_usage_error("", "40:30", "B must be greater than A");
  expect_usage_error("1/2", "", "--time selects no sample of rec.h5 (its samples run from 2023-05-24T12:34:56.123456Z");
  expect_usage_error("2020-01-01/2020-01-02", "", "--time selects no sample of rec.h5");
  expect_usage_error("", "100:200", "--distance selects no channel of rec.h5 (its channels run from 20 m to 42 m)");
  DasInfo no_start = fixture_info();
  no_start.start_time_known = false;
  EXPECT_THROW(resolve_selection(no_start, parse_selection({"2023-05-24/", ""})), UsageError);
  EXPECT_EQ(resolve_selection(no_start, parse_selection({"0.01/", ""})).first_sample, 5u);
}

class SelectionCommands : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fx::make_temp_dir("selection");
    fx::Spec spec;
    spec.channels = 40;
    spec.samples = 400;
    record_ = dir_ + "/rec.h5";
    fx::write_prodml(record_, spec, "2.0");  // distances 20..98 m, 0.8 s
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_, record_;
};

TEST_F(SelectionCommands, InspectShowsTheWindow) {
  const auto r = testing::run_dasnet("inspect --json --time 0.2/0.6 --distance 40:60 \"" + record_ + "\"", dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out).at(0);
  EXPECT_EQ(j["samples"], 200);
  EXPECT_EQ(j["channels"], 10);
  EXPECT_EQ(j["start_time_ns"], fx::Spec{}.start_ns + 200000000LL);
  EXPECT_DOUBLE_EQ(j["distance_start_m"].get<double>(), 40.0);
  const auto out = testing::run_dasnet("inspect --time 2/3 \"" + record_ + "\"", dir_);
  EXPECT_EQ(out.exit_code, 2);
  EXPECT_NE(out.err.find("--time selects no sample"), std::string::npos) << out.err;
}

TEST_F(SelectionCommands, LabelCountsOnlyTheWindowsPatchesInFilePositions) {
  const std::string csv = dir_ + "/labels.csv";
  const auto r = testing::run_dasnet("label -q --patch-channels 10 --patch-samples 100 --time 0.2/0.6 --distance 40: "
                                     "--csv \"" + csv + "\" \"" + record_ + "\"", dir_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("patches: 6"), std::string::npos) << r.out;  // 30 channels x 200 samples
  std::ifstream in(csv);
  std::string line, first_patch;
  std::getline(in, line);
  std::getline(in, first_patch);
  EXPECT_EQ(first_patch.rfind(record_ + ",10,100,", 0), 0u) << first_patch;  // channel 10 (40 m), sample 100 (0.2 s)
}

}  // namespace
}  // namespace dasnet
