// How dasnet infer under MPI shares files among ranks (infer/file_dealing.h).
#include <gtest/gtest.h>

#include "infer/file_dealing.h"

namespace dasnet {
namespace {

TEST(InferDealing, EqualFilesGoRoundRobin) {
  auto dealt = deal_files_by_size({10, 10, 10, 10, 10}, 2);
  EXPECT_EQ(dealt[0], (std::vector<size_t>{0, 2, 4}));
  EXPECT_EQ(dealt[1], (std::vector<size_t>{1, 3}));
}

TEST(InferDealing, LargeFileAloneSmallOnesTogether) {
  auto dealt = deal_files_by_size({5, 100, 40, 50}, 2);
  EXPECT_EQ(dealt[0], (std::vector<size_t>{1}));
  EXPECT_EQ(dealt[1], (std::vector<size_t>{0, 2, 3}));
}

TEST(InferDealing, MoreRanksThanFilesAndEveryFileOnce) {
  auto dealt = deal_files_by_size({3, 1}, 4);
  ASSERT_EQ(dealt.size(), 4u);
  EXPECT_EQ(dealt[0], (std::vector<size_t>{0}));
  EXPECT_EQ(dealt[1], (std::vector<size_t>{1}));
  EXPECT_TRUE(dealt[2].empty() && dealt[3].empty());
  EXPECT_THROW(deal_files_by_size({1}, 0), std::invalid_argument);
}

}  // namespace
}  // namespace dasnet
