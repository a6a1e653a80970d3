// Where dasnet infer writes each record's map (issue 15.6): by file name, records of one name
// from different folders below their common folder, and inputs that would share a map refused
// naming both.
#include <gtest/gtest.h>

#include "core/tensor.h"
#include "core/usage_error.h"
#include "infer/map_names.h"

namespace dasnet {
namespace {

std::string refusal(const std::vector<std::string>& files) {
  try {
    map_output_names(files);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST(InferNames, DistinctFileNamesKeepTheirName) {
  EXPECT_EQ(map_output_names({"/data/x/rec1.h5", "/data/y/rec2.segy", "rec3.tdms"}),
            (std::vector<std::string>{"rec1", "rec2", "rec3"}));
}

TEST(InferNames, OneNameFromSeveralFoldersKeepsTheFolders) {
  EXPECT_EQ(map_output_names({"/data/a/rec.h5", "/data/b/rec.h5", "/data/other.h5"}),
            (std::vector<std::string>{"a/rec", "b/rec", "other"}));
  EXPECT_EQ(map_output_names({"/data/2024/day1/rec.h5", "/data/rec.h5"}),
            (std::vector<std::string>{"2024/day1/rec", "rec"}));
  // The same names whatever order the files come in (each rank computes them alone).
  EXPECT_EQ(map_output_names({"/data/b/rec.h5", "/data/a/rec.h5"}), (std::vector<std::string>{"b/rec", "a/rec"}));
}

TEST(InferNames, InputsThatWouldShareAMapAreRefusedNamingBoth) {
  const std::string twice = refusal({"/data/a/rec.h5", "/data/a/../a/rec.h5"});
  EXPECT_NE(twice.find("given twice"), std::string::npos) << twice;
  EXPECT_NE(twice.find("/data/a/../a/rec.h5"), std::string::npos) << twice;
  const std::string formats = refusal({"/data/a/rec.h5", "/data/a/rec.segy"});
  EXPECT_NE(formats.find("/data/a/rec.h5 and /data/a/rec.segy"), std::string::npos) << formats;
  EXPECT_NE(formats.find("rec.pmap.h5"), std::string::npos) << formats;
}

}  // namespace
}  // namespace dasnet
