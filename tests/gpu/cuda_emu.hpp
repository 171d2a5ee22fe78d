#pragma once
// A small CPU emulation of the CUDA features the backend uses, so that its kernels run (and
// can be checked against the CPU backend, also under ThreadSanitizer) on a machine without
// a GPU. Every thread of a block is a std::thread (kept and reused); __syncthreads is a barrier; warp
// collectives (__ballot_sync, __shfl_xor_sync) use one barrier per warp; blocks run one
// after the other, so __shared__ can be a function-local static. Device memory is host
// memory filled with 0xff bytes (NaN / -1) to expose reads of uninitialised buffers.
// Only for tests: tests/gpu/cuda_engine_emu.cpp includes it before the .cu file.
#include <atomic>
#include <condition_variable>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(x)
#define __shared__ static

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
};

namespace dp_emu {

// A barrier whose waiters sleep at once: a block has far more threads than the machine has
// cores, and std::barrier's waiters spin and yield first, which kept hundreds of threads
// runnable and slowed everything else on the machine.
class Barrier {
 public:
  explicit Barrier(unsigned n) : n_(n) {}
  void arrive_and_wait() {
    std::unique_lock<std::mutex> lock(m_);
    const uint64_t phase = phase_;
    if (++arrived_ == n_) {
      arrived_ = 0;
      ++phase_;
      cv_.notify_all();
    } else {
      cv_.wait(lock, [&] { return phase_ != phase; });
    }
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  const unsigned n_;
  unsigned arrived_ = 0;
  uint64_t phase_ = 0;
};

struct Block {
  std::unique_ptr<Barrier> bar;
  std::vector<std::unique_ptr<Barrier>> warp_bar;
  std::vector<uint64_t> scratch;  // one word per thread for warp collectives
  std::vector<uint64_t> dynamic_shared;  // the launch's dynamic shared memory, 0xff bytes
};

inline thread_local dim3 thread_idx, block_idx;
inline dim3 block_dim, grid_dim;
inline Block* block = nullptr;

// The threads of one block, kept for the whole process and reused by every block of every
// launch with that many threads: starting a std::thread per CUDA thread and block made the
// emulated checks spend nine tenths of their time creating and destroying threads.
class Workers {
 public:
  explicit Workers(unsigned n) : start_(n + 1), done_(n + 1) {
    for (unsigned t = 0; t < n; ++t) threads_.emplace_back([this, t] { serve(t); });
  }
  ~Workers() {
    stop_ = true;  // published to the workers by the barrier
    start_.arrive_and_wait();
    for (auto& th : threads_) th.join();
  }
  // Runs body on every thread of block b; returns when all have finished.
  void run(unsigned b, const std::function<void()>& body) {
    body_ = &body;
    block_ = b;
    start_.arrive_and_wait();
    done_.arrive_and_wait();
  }

 private:
  void serve(unsigned t) {
    for (;;) {
      start_.arrive_and_wait();
      if (stop_) return;
      thread_idx.x = t;
      block_idx.x = block_;
      (*body_)();
      done_.arrive_and_wait();
    }
  }
  Barrier start_, done_;
  std::vector<std::thread> threads_;
  const std::function<void()>* body_ = nullptr;
  unsigned block_ = 0;
  bool stop_ = false;
};

inline Workers& workers(unsigned threads) {
  static std::map<unsigned, std::unique_ptr<Workers>> by_size;
  auto& w = by_size[threads];
  if (!w) w = std::make_unique<Workers>(threads);
  return *w;
}

template <typename F>
void launch(unsigned grid, unsigned threads, F&& body, size_t shared_bytes = 0) {
  if (threads % 32 != 0) std::abort();
  grid_dim.x = grid;
  block_dim.x = threads;
  const std::function<void()> run_body = [&body] { body(); };
  for (unsigned b = 0; b < grid; ++b) {
    Block blk;
    blk.bar = std::make_unique<Barrier>(threads);
    for (unsigned w = 0; w < threads / 32; ++w) blk.warp_bar.push_back(std::make_unique<Barrier>(32));
    blk.scratch.assign(threads, 0);
    blk.dynamic_shared.assign((shared_bytes + 7) / 8, ~uint64_t(0));
    block = &blk;
    workers(threads).run(b, run_body);
    block = nullptr;
  }
}

inline void warp_sync() { block->warp_bar[thread_idx.x / 32]->arrive_and_wait(); }
inline unsigned char* dynamic_shared() { return reinterpret_cast<unsigned char*>(block->dynamic_shared.data()); }

}  // namespace dp_emu

#define threadIdx dp_emu::thread_idx
#define blockIdx dp_emu::block_idx
#define blockDim dp_emu::block_dim
#define gridDim dp_emu::grid_dim

inline void __syncthreads() { dp_emu::block->bar->arrive_and_wait(); }

inline unsigned __ballot_sync(unsigned, bool pred) {
  auto& s = dp_emu::block->scratch;
  const unsigned t = dp_emu::thread_idx.x, base = t & ~31u;
  s[t] = pred ? 1 : 0;
  dp_emu::warp_sync();
  unsigned m = 0;
  for (unsigned l = 0; l < 32; ++l)
    if (s[base + l]) m |= 1u << l;
  dp_emu::warp_sync();
  return m;
}

template <typename T>
inline T __shfl_xor_sync(unsigned, T v, int lane_mask) {
  static_assert(sizeof(T) <= sizeof(uint64_t));
  auto& s = dp_emu::block->scratch;
  const unsigned t = dp_emu::thread_idx.x;
  std::memcpy(&s[t], &v, sizeof(T));
  dp_emu::warp_sync();
  T r;
  std::memcpy(&r, &s[(t & ~31u) | ((t & 31u) ^ unsigned(lane_mask))], sizeof(T));
  dp_emu::warp_sync();
  return r;
}

inline int __popc(unsigned x) { return __builtin_popcount(x); }

inline unsigned atomicAdd(unsigned* p, unsigned v) { return std::atomic_ref<unsigned>(*p).fetch_add(v); }
inline unsigned long long atomicMin(unsigned long long* p, unsigned long long v) {
  std::atomic_ref<unsigned long long> a(*p);
  unsigned long long cur = a.load();
  while (v < cur && !a.compare_exchange_weak(cur, v)) {
  }
  return cur;
}
inline unsigned atomicExch(unsigned* p, unsigned v) { return std::atomic_ref<unsigned>(*p).exchange(v); }

// ---- runtime API subset ----------------------------------------------------------------------
using cudaError_t = int;
constexpr cudaError_t cudaSuccess = 0;
enum cudaMemcpyKind { cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };
struct cudaDeviceProp {
  char name[256];
  int major, minor, multiProcessorCount;
  size_t totalGlobalMem;
};
inline const char* cudaGetErrorString(cudaError_t) { return "emulated CUDA error"; }
inline cudaError_t cudaGetDeviceCount(int* n) {
  *n = 1;
  return cudaSuccess;
}
inline cudaError_t cudaSetDevice(int) { return cudaSuccess; }
inline cudaError_t cudaDriverGetVersion(int* v) {
  *v = 0;
  return cudaSuccess;
}
inline cudaError_t cudaRuntimeGetVersion(int* v) {
  *v = 0;
  return cudaSuccess;
}
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
inline cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
inline cudaError_t cudaMalloc(void** p, size_t n) {
  *p = std::malloc(n);
  if (!*p) return 2;
  std::memset(*p, 0xff, n);
  return cudaSuccess;
}
inline cudaError_t cudaFree(void* p) {
  std::free(p);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpy(void* d, const void* s, size_t n, cudaMemcpyKind) {
  std::memcpy(d, s, n);
  return cudaSuccess;
}
inline cudaError_t cudaMemset(void* d, int v, size_t n) {
  std::memset(d, v, n);
  return cudaSuccess;
}
inline cudaError_t cudaMemGetInfo(size_t* free_b, size_t* total_b) {
  *free_b = size_t(4) << 30;
  *total_b = size_t(8) << 30;
  return cudaSuccess;
}
// The shared memory of an H100/H200 SM, on one emulated SM.
enum cudaDeviceAttr {
  cudaDevAttrMultiProcessorCount,
  cudaDevAttrMaxSharedMemoryPerMultiprocessor,
  cudaDevAttrMaxSharedMemoryPerBlockOptin
};
inline cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr a, int) {
  *v = a == cudaDevAttrMultiProcessorCount ? 1 : a == cudaDevAttrMaxSharedMemoryPerMultiprocessor ? 233472 : 232448;
  return cudaSuccess;
}
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize };
template <typename F>
inline cudaError_t cudaFuncSetAttribute(F*, cudaFuncAttribute, int) {
  return cudaSuccess;
}
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int) {
  std::strcpy(p->name, "CPU emulation");
  p->major = 0;
  p->minor = 0;
  p->multiProcessorCount = 1;
  p->totalGlobalMem = size_t(8) << 30;
  return cudaSuccess;
}

// Streams: the emulation runs every call to completion, so a stream is only a handle and the
// asynchronous copies are synchronous ones.
using cudaStream_t = struct dp_emu_stream*;
inline cudaError_t cudaStreamCreate(cudaStream_t* s) {
  *s = reinterpret_cast<cudaStream_t>(new char);
  return cudaSuccess;
}
inline cudaError_t cudaStreamDestroy(cudaStream_t s) {
  delete reinterpret_cast<char*>(s);
  return cudaSuccess;
}
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaMemcpyAsync(void* d, const void* s, size_t n, cudaMemcpyKind k, cudaStream_t) {
  return cudaMemcpy(d, s, n, k);
}
inline cudaError_t cudaMemsetAsync(void* d, int v, size_t n, cudaStream_t) { return cudaMemset(d, v, n); }
inline cudaError_t cudaMallocHost(void** p, size_t n) { return cudaMalloc(p, n); }
inline cudaError_t cudaFreeHost(void* p) { return cudaFree(p); }
