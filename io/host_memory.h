// Where batch images live in host memory. A CUDA build can install page-locked allocation
// (cudaHostAlloc / cudaFreeHost) so host-to-device copies run asynchronously at full speed; without
// hooks this is plain 64-byte aligned heap memory. Nothing here needs CUDA.
#pragma once
#include <cstddef>
#include <cstdlib>
#include <new>
#include <type_traits>
#include <vector>

namespace dasnet {

struct HostMemoryHooks {
  void* (*allocate)(size_t bytes) = nullptr;  // nullptr: aligned heap memory
  void (*release)(void* pointer) = nullptr;
};

// Stateful allocator: each vector remembers the hooks it allocated with, and the hooks travel
// with the memory on swap and move, so a buffer is always freed by the function that made it.
template <class T>
struct HostAllocator {
  using value_type = T;
  using propagate_on_container_swap = std::true_type;
  using propagate_on_container_move_assignment = std::true_type;
  using propagate_on_container_copy_assignment = std::true_type;
  HostMemoryHooks hooks;
  HostAllocator() = default;
  explicit HostAllocator(HostMemoryHooks h) : hooks(h) {}
  template <class U>
  HostAllocator(const HostAllocator<U>& other) : hooks(other.hooks) {}
  T* allocate(size_t n) {
    const size_t bytes = ((n * sizeof(T) + 63) / 64) * 64;
    void* p = hooks.allocate ? hooks.allocate(bytes) : std::aligned_alloc(64, bytes == 0 ? 64 : bytes);
    if (!p) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) {
    if (hooks.release) hooks.release(p);
    else std::free(p);
  }
  template <class U>
  bool operator==(const HostAllocator<U>& o) const {
    return hooks.allocate == o.hooks.allocate && hooks.release == o.hooks.release;
  }
  template <class U>
  bool operator!=(const HostAllocator<U>& o) const {
    return !(*this == o);
  }
};

using HostFloats = std::vector<float, HostAllocator<float>>;

}  // namespace dasnet
