// The byte buffer of stored samples (DasRecord::stored): filled by a read straight after it is
// sized, so resize() leaves the bytes uninitialized instead of zeroing them (a whole extra pass
// over the record), and large buffers ask for transparent huge pages (madvise), which cut the
// page faults of first touch about 500-fold where the kernel allows them.
#pragma once
#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <new>
#include <utility>
#include <vector>

namespace dasnet {

template <class T>
struct SampleAllocator {
  using value_type = T;
  static constexpr size_t kHugePage = size_t{2} << 20;
  SampleAllocator() = default;
  template <class U>
  SampleAllocator(const SampleAllocator<U>&) {}
  T* allocate(size_t n) {
    const size_t bytes = n * sizeof(T);
    const size_t align = bytes >= 2 * kHugePage ? kHugePage : 64;
    void* p = std::aligned_alloc(align, (bytes + align - 1) / align * align + (bytes == 0 ? align : 0));
    if (!p) throw std::bad_alloc();
    if (align == kHugePage) ::madvise(p, (bytes + align - 1) / align * align, MADV_HUGEPAGE);  // a hint only
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) { std::free(p); }
  // Value-initialization (resize) leaves the bytes as they are; the readers overwrite them all.
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
  template <class U>
  bool operator==(const SampleAllocator<U>&) const { return true; }
  template <class U>
  bool operator!=(const SampleAllocator<U>&) const { return false; }
};

using SampleBytes = std::vector<unsigned char, SampleAllocator<unsigned char>>;

}  // namespace dasnet
