// Static memory planning (ggml's lesson): every activation, gradient and temporary of a
// training step is a request of some bytes alive over an interval of steps; requests whose
// intervals do not overlap may share memory. Planned once per (network, batch size, mode).
#pragma once
#include <cstddef>
#include <vector>

namespace dasnet {

struct MemoryRequest {
  size_t bytes = 0;
  int first_step = 0;  // inclusive
  int last_step = 0;   // inclusive
};

struct MemoryPlan {
  std::vector<size_t> offsets;  // byte offset of each request, 64-byte aligned
  size_t total_bytes = 0;
};

// Greedy best-fit by size: large requests placed first at the lowest free offset.
MemoryPlan plan_memory(const std::vector<MemoryRequest>& requests);

}  // namespace dasnet
