#pragma once
// The batched CUDA backend (MODEL.md §2-§3 on the GPU). Plain C++ header: it is included by
// code compiled without nvcc (core/engine.cpp, the device check).
#include <cstdint>
#include <memory>
#include <string>

#include "core/engine.hpp"
#include "core/network.hpp"

namespace delayprop {

// Throws Error when no device is visible ("no CUDA device visible") or
// opt.device is out of range.
std::unique_ptr<Engine> make_cuda_engine(const Network& net, const EngineOptions& opt);

// Where the time of the last forward/backward went (host preparation and uploads, device
// work, downloads), and how often the spike tape had to grow. For benchmarks and tests.
struct CudaProfile {
  double fwd_prep_ms = 0, fwd_gpu_ms = 0, fwd_out_ms = 0;
  double bwd_prep_ms = 0, bwd_gpu_ms = 0, bwd_out_ms = 0;
  uint64_t tape_regrowths = 0;  // since the engine was made
  uint32_t tape_capacity = 0;   // entries per sample now
  uint32_t bwd_chunks = 0;      // backward launches of the last batch
  uint64_t shared_ring_bytes = 0;  // per block: dynamic shared memory of the forward pass (state, rings)
  uint64_t shared_hist_bytes = 0;  // per block: dynamic shared memory of the backward pass (state, histories)
};
// False when engine is not a CUDA engine.
bool cuda_engine_profile(const Engine& engine, CudaProfile& prof);

// Number of visible CUDA devices; 0 when there is none or no usable driver (never throws).
// To tell "no device" from "a device the runtime cannot use", see cuda_probe().
int cuda_device_count();

// cudaGetDeviceCount with its error: count 0 and an empty error means the runtime found no
// device; a non-empty error ("cudaGetDeviceCount: <text> (code N)") means it could not look
// (no driver, driver too old, device busy or broken). Never throws.
struct CudaProbe {
  int count = 0;
  int code = 0;  // cudaError_t
  std::string error;
  int driver_version = 0;   // CUDA version the driver supports (12040 = 12.4), 0 = no driver
  int runtime_version = 0;  // CUDA runtime linked in (13000 = 13.0): needs driver_version >= it
};
CudaProbe cuda_probe();

// Name and memory of a device, for logs ("NVIDIA H200, 139.8 GiB").
std::string cuda_device_description(int device);

// Test hook: sums random per-sample gradients with the GPU's accumulation kernel, in several
// chunkings, and with the CPU backend's (core/exact_sum.hpp); true when every digit agrees.
bool cuda_exact_sum_matches_cpu(uint64_t seed, std::string& detail);

// Test hook: `steps` Adam steps (with the delay clamp) on random gradients by the device
// kernel of resident training and by core/optimizer.cpp's Adam::step; true when parameters
// and moments are bitwise equal after every step and some delays reached a clamp bound.
bool cuda_adam_matches_host(const Network& net, uint64_t seed, int steps, std::string& detail);

// Free and total device memory in bytes (cudaMemGetInfo on the given device).
void cuda_mem_info(int device, size_t& free_bytes, size_t& total_bytes);

}  // namespace delayprop
