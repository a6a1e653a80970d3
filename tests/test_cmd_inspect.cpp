// dasnet inspect, run as users run it: the built binary on the real files and on a bad one.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/cli_runner.h"
#include "tests/das_fixtures.h"
#include "tests/real_files.h"

namespace dasnet {
namespace {

namespace fs = std::filesystem;

using testing::CommandResult;
using testing::run_dasnet;

using fixtures::data_dir;

class InspectCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    scratch_ = fixtures::make_temp_dir("inspect");
    prodml_ = data_dir() + "/prodml_2.0.h5";
    terra15_ = data_dir() + "/terra15_v5_test_file.hdf5";
    ASSERT_TRUE(fs::exists(prodml_)) << prodml_ << " (set DASNET_DATA_DIR)";
  }
  void TearDown() override { fs::remove_all(scratch_); }
  std::string scratch_, prodml_, terra15_;
};

TEST_F(InspectCommand, DescribesTheRealFiles) {
  const CommandResult r = run_dasnet("inspect \"" + prodml_ + "\" \"" + terra15_ + "\"", scratch_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("format:          prodml 2.0"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("512 channels x 2500 samples"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sampling rate:   200 Hz"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("start:           1970-01-01T00:00:00Z"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("format:          terra15 5"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("units:           m/s"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("dtype:           float32"), std::string::npos) << r.out;
}

TEST_F(InspectCommand, JsonAndImage) {
  const std::string png = scratch_ + "/look.png";
  const CommandResult r = run_dasnet("inspect --json --image \"" + png + "\" \"" + prodml_ + "\"", scratch_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.front(), '[');
  EXPECT_NE(r.out.find("\"format\": \"prodml\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"channels\": 512"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"dtype\": \"int16\""), std::string::npos) << r.out;
  std::ifstream in(png, std::ios::binary);
  std::array<char, 8> signature{};
  in.read(signature.data(), signature.size());
  EXPECT_EQ(std::string(signature.data() + 1, 3), "PNG");
}

TEST_F(InspectCommand, BadFilesNameTheFileAndFail) {
  const std::string bad = scratch_ + "/broken.h5";
  fixtures::copy_file(prodml_, bad);
  fixtures::truncate_file(bad, 5000);
  const CommandResult r = run_dasnet("inspect \"" + prodml_ + "\" \"" + bad + "\"", scratch_);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("dasnet: error: " + bad), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("prodml"), std::string::npos) << "good files are still described: " << r.out;

  const std::string text = scratch_ + "/notes.txt";
  fixtures::write_bytes(text, "not a DAS file\n");
  const CommandResult t = run_dasnet("inspect \"" + text + "\"", scratch_);
  EXPECT_EQ(t.exit_code, 1);
  EXPECT_NE(t.err.find(text), std::string::npos) << t.err;
  EXPECT_NE(t.err.find("unknown DAS format"), std::string::npos) << t.err;

  const CommandResult missing = run_dasnet("inspect \"" + scratch_ + "/none.h5\"", scratch_);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("none.h5"), std::string::npos) << missing.err;
}

}  // namespace
}  // namespace dasnet
