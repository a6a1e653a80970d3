#include "engine/memory_plan.h"

#include <algorithm>
#include <numeric>

namespace dasnet {

MemoryPlan plan_memory(const std::vector<MemoryRequest>& requests) {
  auto align = [](size_t b) { return (b + 63) / 64 * 64; };
  std::vector<size_t> order(requests.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return requests[a].bytes > requests[b].bytes; });

  MemoryPlan plan;
  plan.offsets.assign(requests.size(), 0);
  std::vector<size_t> placed;
  for (size_t r : order) {
    const MemoryRequest& q = requests[r];
    size_t size = align(q.bytes);
    if (size == 0) continue;
    // Address ranges of placed requests alive at the same time, by offset.
    std::vector<std::pair<size_t, size_t>> busy;
    for (size_t p : placed) {
      const MemoryRequest& o = requests[p];
      if (o.first_step <= q.last_step && q.first_step <= o.last_step)
        busy.push_back({plan.offsets[p], plan.offsets[p] + align(o.bytes)});
    }
    std::sort(busy.begin(), busy.end());
    size_t offset = 0;
    for (const auto& [begin, end] : busy) {
      if (begin >= offset + size) break;
      offset = std::max(offset, end);
    }
    plan.offsets[r] = offset;
    plan.total_bytes = std::max(plan.total_bytes, offset + size);
    placed.push_back(r);
  }
  return plan;
}

}  // namespace dasnet
