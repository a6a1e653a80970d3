#include "infer/map_names.h"

#include <filesystem>
#include <map>

#include "core/tensor.h"
#include "core/usage_error.h"

namespace dasnet {

namespace {

namespace fs = std::filesystem;

fs::path common_folder(const std::vector<fs::path>& paths) {
  fs::path common = paths.front().parent_path();
  for (const auto& p : paths) {
    const fs::path folder = p.parent_path();  // one object: its iterators must not span temporaries
    fs::path shared;
    auto a = common.begin();
    for (auto b = folder.begin(); a != common.end() && b != folder.end() && *a == *b; ++a, ++b) shared /= *a;
    common = shared;
  }
  return common;
}

}  // namespace

std::vector<std::string> map_output_names(const std::vector<std::string>& files) {
  std::vector<fs::path> resolved;
  std::map<std::string, std::vector<size_t>> by_stem;
  for (size_t i = 0; i < files.size(); ++i) {
    resolved.push_back(fs::weakly_canonical(fs::absolute(files[i])));
    by_stem[resolved.back().stem().string()].push_back(i);
  }
  std::vector<std::string> names(files.size());
  for (const auto& [stem, indices] : by_stem) {
    if (indices.size() == 1) {
      names[indices[0]] = stem;
      continue;
    }
    std::vector<fs::path> group;
    for (size_t i : indices) group.push_back(resolved[i]);
    const fs::path common = common_folder(group);
    for (size_t i : indices)
      names[i] = (resolved[i].parent_path().lexically_relative(common) / stem).lexically_normal().generic_string();
  }
  std::map<std::string, size_t> writer;
  for (size_t i = 0; i < files.size(); ++i) {
    auto [seen, fresh] = writer.emplace(names[i], i);
    if (fresh) continue;
    const std::string& other = files[seen->second];
    if (resolved[seen->second] == resolved[i])
      throw UsageError(files[i] + ": given twice (also as " + other + "); each record makes one map");
    throw UsageError(other + " and " + files[i] + " would both write the map " + names[i] +
                     ".pmap.h5: rename one, or infer them with different -o folders");
  }
  return names;
}

}  // namespace dasnet
