// The real DAS sample files of shared/data/das, for the tests.
#pragma once
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace dasnet::fixtures {

// $DASNET_DATA_DIR, else <repo>/../shared/data/das (also how CI lays out a clone with shared/
// beside it), else <repo>/shared/data/das.
inline std::string data_dir() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("DASNET_DATA_DIR"); env && *env) return env;
  for (const fs::path& candidate : {fs::path(DASNET_SOURCE_DIR) / ".." / "shared" / "data" / "das",
                                    fs::path(DASNET_SOURCE_DIR) / "shared" / "data" / "das"})
    if (fs::exists(candidate / "prodml_2.0.h5")) return candidate.string();
  return (fs::path(DASNET_SOURCE_DIR) / ".." / "shared" / "data" / "das").string();
}

// Path of one real sample file; throws naming the path when it is missing.
inline std::string real_file(const std::string& name) {
  const std::string path = (std::filesystem::path(data_dir()) / name).string();
  if (!std::filesystem::exists(path))
    throw std::runtime_error("missing real sample file " + path + " (set DASNET_DATA_DIR)");
  return path;
}

}  // namespace dasnet::fixtures
