#include "infer/file_dealing.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>

namespace dasnet {

std::vector<std::vector<size_t>> deal_files_by_size(const std::vector<uint64_t>& file_bytes, int ranks) {
  if (ranks < 1) throw std::invalid_argument("deal_files_by_size: ranks must be >= 1");
  std::vector<size_t> order(file_bytes.size());
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return file_bytes[a] > file_bytes[b]; });
  std::vector<std::vector<size_t>> dealt(static_cast<size_t>(ranks));
  std::vector<uint64_t> load(static_cast<size_t>(ranks), 0);
  for (size_t file : order) {
    // Lowest rank among the least loaded: equal sizes go round-robin (file r to rank r).
    size_t target = size_t(std::min_element(load.begin(), load.end()) - load.begin());
    dealt[target].push_back(file);
    load[target] += std::max<uint64_t>(file_bytes[file], 1);
  }
  for (auto& files : dealt) std::sort(files.begin(), files.end());
  return dealt;
}

}  // namespace dasnet
