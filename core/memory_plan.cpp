#include "core/memory_plan.h"

#include <algorithm>
#include <functional>
#include <numeric>

namespace dasnet {

namespace {

size_t align(size_t bytes) { return (bytes + 63) / 64 * 64; }

// Places requests in the given order, each at the lowest offset free over its lifetime.
MemoryPlan place_in_order(const std::vector<MemoryRequest>& requests, const std::vector<size_t>& order) {
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

}  // namespace

MemoryPlan plan_memory(const std::vector<MemoryRequest>& requests) {
  // Greedy placement is order-sensitive; a few orders cost microseconds, keep the smallest.
  std::vector<size_t> order(requests.size());
  std::iota(order.begin(), order.end(), 0);
  auto size_of = [&](size_t i) { return requests[i].bytes; };
  auto span_of = [&](size_t i) { return requests[i].last_step - requests[i].first_step; };
  std::vector<std::function<bool(size_t, size_t)>> orders = {
      [&](size_t a, size_t b) { return size_of(a) > size_of(b); },
      [&](size_t a, size_t b) { return std::make_pair(size_of(a), span_of(a)) > std::make_pair(size_of(b), span_of(b)); },
      [&](size_t a, size_t b) { return std::make_pair(span_of(a), size_of(a)) > std::make_pair(span_of(b), size_of(b)); },
      [&](size_t a, size_t b) { return requests[a].first_step < requests[b].first_step; },
  };
  MemoryPlan best;
  for (const auto& less : orders) {
    std::stable_sort(order.begin(), order.end(), less);
    MemoryPlan plan = place_in_order(requests, order);
    if (best.offsets.empty() || plan.total_bytes < best.total_bytes) best = std::move(plan);
  }
  return best;
}

}  // namespace dasnet
