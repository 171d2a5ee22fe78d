#pragma once
// std::vector whose storage starts at a multiple of kAlign bytes.
#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <limits>
#include <new>
#include <vector>

namespace delayprop {

template <typename T, size_t kAlign>
struct AlignedAllocator {
  static_assert(kAlign >= alignof(T) && (kAlign & (kAlign - 1)) == 0, "a power of two, at least T's alignment");
  using value_type = T;
  template <typename U>
  struct rebind {
    using other = AlignedAllocator<U, kAlign>;
  };
  AlignedAllocator() = default;
  template <typename U>
  AlignedAllocator(const AlignedAllocator<U, kAlign>&) {}
  T* allocate(size_t n) {
    if (n > (std::numeric_limits<size_t>::max() - kAlign) / sizeof(T)) throw std::bad_array_new_length();
    // aligned_alloc takes a multiple of the alignment, and may fail for 0 bytes.
    const size_t bytes = std::max<size_t>(1, (n * sizeof(T) + kAlign - 1) / kAlign) * kAlign;
    if (void* p = std::aligned_alloc(kAlign, bytes)) return static_cast<T*>(p);
    throw std::bad_alloc();
  }
  void deallocate(T* p, size_t) noexcept { std::free(p); }
  template <typename U>
  bool operator==(const AlignedAllocator<U, kAlign>&) const {
    return true;
  }
};

// Starts on a cache line (64 bytes, one AVX-512 register): a vector kernel's whole-register
// loads and stores at multiples of 64 bytes from the start then touch one line, not two.
template <typename T>
using LineVector = std::vector<T, AlignedAllocator<T, 64>>;

}  // namespace delayprop
