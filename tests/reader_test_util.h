// What the DAS-reader tests share: a scratch folder per test and the check that a failure names
// the file and the problem.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>

#include "tests/das_fixtures.h"

namespace dasnet::testing {

// A fresh folder per test (removed after it); path(name) is a file in it.
class ScratchDirTest : public ::testing::Test {
 protected:
  explicit ScratchDirTest(std::string tag = "readers") : tag_(std::move(tag)) {}
  void SetUp() override { dir_ = fixtures::make_temp_dir(tag_); }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string path(const std::string& name) const { return (std::filesystem::path(dir_) / name).string(); }
  // A copy of `file` named `name`, changed by `edit` (e.g. an attribute deleted).
  std::string edited_copy(const std::string& file, const std::string& name,
                          const std::function<void(const std::string&)>& edit) const {
    const std::string copy = path(name);
    fixtures::copy_file(file, copy);
    edit(copy);
    return copy;
  }
  std::string tag_, dir_;
};

// Expects `fn` to throw std::runtime_error whose message names `file` and contains `needle`.
inline void expect_error(const std::function<void()>& fn, const std::string& file, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "no error for " << file << " (expected '" << needle << "')";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(file), std::string::npos) << what;
    EXPECT_NE(what.find(needle), std::string::npos) << "expected '" << needle << "' in: " << what;
  }
}

}  // namespace dasnet::testing
