// The batched CUDA backend: MODEL.md §2-§3 for every sample of a batch at once, with the CPU
// backend's numerics (kernels/cpu/cpu_engine.cpp is the reference; the step math is the
// shared core/model_math.hpp). Design, memory layout and determinism: docs/GPU.md.
//
// - One thread block per sample runs the whole time loop (one launch per forward, one per
//   backward chunk); threads own fixed neurons (j = threadIdx.x + k * kThreads).
// - Forward: per step, update every population, compact this step's spikes in neuron order
//   onto the sample's tape (warp ballots, no atomics), then deliver every spike of the step
//   in the CPU's order (inputs in batch order, then populations in order, neurons
//   ascending) with threads over the post-synaptic neurons: every arrival-ring cell gets its
//   additions in the same order as on the CPU, so the float forward pass is bit-identical.
// - Backward: per step, one warp per spike gathers R (warp shuffle reduction) and adds the
//   spike's weight and delay gradients into the sample's own gradient row (no atomics);
//   then one adjoint step per neuron writes the history ring. Per-sample partial gradients
//   are summed over samples in a fixed order in double: results are bitwise reproducible.
// - Memory per sample: V, I, arrival ring (reused as the lambda_V history in backward),
//   lambda_I history, the spike tape (grows by doubling: a block that overflows stops, the
//   batch is re-run) and, in backward, one partial gradient buffer.
#include "kernels/cuda/cuda_engine.hpp"

#ifndef DELAYPROP_CUDA_EMULATION
#include <cuda_runtime.h>
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <sstream>
#include <vector>

#include "core/error.hpp"
#include "core/model_math.hpp"
#include "kernels/common.hpp"

namespace delayprop {
namespace {

void check_cuda(cudaError_t e, const char* what, const char* file, int line) {
  if (e != cudaSuccess) fail("CUDA error in ", what, " (", file, ":", line, "): ", cudaGetErrorString(e));
}
#define DP_CUDA(call) check_cuda((call), #call, __FILE__, __LINE__)
// tests/gpu/cuda_engine_emu.cpp runs these kernels on CPU threads (tests/gpu/cuda_emu.hpp).
#ifdef DELAYPROP_CUDA_EMULATION
#define DP_LAUNCH(kernel, grid, block, ...) dp_emu::launch((grid), (block), [&] { kernel(__VA_ARGS__); })
#define DP_LAUNCH_ON(stream, kernel, grid, block, ...) dp_emu::launch((grid), (block), [&] { kernel(__VA_ARGS__); })
#else
#define DP_LAUNCH(kernel, grid, block, ...) kernel<<<(grid), (block)>>>(__VA_ARGS__)
#define DP_LAUNCH_ON(stream, kernel, grid, block, ...) kernel<<<(grid), (block), 0, (stream)>>>(__VA_ARGS__)
#endif

#ifndef DP_CUDA_THREADS
#define DP_CUDA_THREADS 256
#endif
constexpr int kThreads = DP_CUDA_THREADS;  // per block (= per sample); a multiple of 32
static_assert(kThreads % 32 == 0 && kThreads <= 1024);
constexpr int kWarps = kThreads / 32;
constexpr uint32_t kMaxPops = 12, kMaxConns = 24, kMaxOut = 8;
constexpr uint32_t kNeuronBits = 24;  // tape and input ids: population << 24 | neuron
constexpr uint32_t kNeuronMask = (1u << kNeuronBits) - 1;
enum : uint32_t { kInput = 0, kLIF = 1, kLI = 2 };

struct DevPop {
  uint32_t kind, size, mask, single_spike;
  uint32_t state_off;  // neuron offset in a sample's V / I / fired / kick
  uint32_t count_off;  // offset in the batch spike-count array (LIF)
  uint32_t n_out;
  uint32_t out[kMaxOut];  // outgoing connections
  uint32_t pad_;
  uint64_t ring_off;  // element offset of this population's ring in a sample's ring
};

struct DevConn {
  uint32_t post, n_post;
  uint64_t weight_offset, delay_offset;  // parameter layout
};

// Everything the kernels index by population or connection; copied to shared memory at the
// start of each kernel.
template <typename Real>
struct Layout {
  DevPop pops[kMaxPops];
  DevConn conns[kMaxConns];
  StepConstants<Real> k[kMaxPops];
  uint32_t n_pops, output;
  Readout readout;
  uint32_t K, n_steps, n_state, tape_cap, pad_;
  uint64_t n_ring, n_params;
  Real inv_T;
};

template <typename Real>
struct TapeEntry {
  uint32_t id;  // population << 24 | neuron
  Real x;       // I0 - V at the spike: the jump's denominator
};

template <typename Real>
struct Buffers {
  const Real* w;        // [n_params]: weights at their offsets (delay part unused)
  const int32_t* s;     // [n_params]: delay steps at the delay offsets (weight part unused)
  const Real* sumexp_w;        // [n_steps]
  const Real* sumexp_density;  // [n_steps]
  const uint32_t* in_id;       // forward input spikes, batch order
  const uint32_t* in_off;      // [B][n_steps + 1]
  const uint32_t* bin_id;      // backward: unique (step, id) per sample
  const uint32_t* bin_mult;    // multiplicity of each
  const uint32_t* bin_off;     // [B][n_steps + 1]
  Real* V;                     // [B][n_state]; lambda_V in backward
  Real* I;                     // [B][n_state]; lambda_I in backward
  uint8_t* fired;              // [B][n_state]
  Real* ring;                  // [B][n_ring]: arrivals; lambda_V history in backward
  Real* hi;                    // [C][n_ring]: lambda_I history
  TapeEntry<Real>* tape;       // [B][tape_cap]
  int32_t* tape_off;           // [B][n_steps + 1]: first tape entry of each step
  int32_t* tape_total;         // [B]
  Real* yacc;                  // [B][K]
  Real* ymax;                  // [B][K]
  int32_t* first;              // [B][K]
  int32_t* nstar;              // [B][K]
  uint32_t* counts;            // [LIF neurons] summed over the batch
  const Real* g;               // [B][K] dL/dy
  const Real* kick;            // [n_state] regulariser kicks (0 = none)
  double* gpart;               // [C][n_params] per-sample gradients, in double as on the CPU
};

template <typename Real>
__device__ __forceinline__ void load_layout(const Layout<Real>* __restrict__ src, Layout<Real>& dst) {
  static_assert(sizeof(Layout<Real>) % 4 == 0);
  const uint32_t* s = reinterpret_cast<const uint32_t*>(src);
  uint32_t* d = reinterpret_cast<uint32_t*>(&dst);
  for (uint32_t i = threadIdx.x; i < sizeof(Layout<Real>) / 4; i += kThreads) d[i] = s[i];
  __syncthreads();
}

// Adds the arrivals of one spike of neuron i (population pre) emitted in step n.
template <typename Real>
__device__ __forceinline__ void deliver(const Layout<Real>& L, const Buffers<Real>& B, Real* __restrict__ ring,
                                        uint32_t pre, uint32_t i, int32_t n) {
  const DevPop& pp = L.pops[pre];
  for (uint32_t o = 0; o < pp.n_out; ++o) {
    const DevConn& c = L.conns[pp.out[o]];
    const uint32_t N = c.n_post;
    const DevPop& tp = L.pops[c.post];
    const size_t row = size_t(i) * N;
    const Real* __restrict__ w = B.w + c.weight_offset + row;
    const int32_t* __restrict__ s = B.s + c.delay_offset + row;
    Real* __restrict__ r = ring + tp.ring_off;
    for (uint32_t j = threadIdx.x; j < N; j += kThreads) {
      // Arrivals at or after the trial end are never read: skip them.
      if (arrival_step(n, s[j]) < int32_t(L.n_steps)) r[ring_row(n, s[j], tp.mask) * N + j] += w[j];
    }
  }
}

template <typename Real>
__global__ void __launch_bounds__(kThreads) forward_kernel(const Layout<Real>* __restrict__ layout, Buffers<Real> B) {
  __shared__ Layout<Real> L;
  __shared__ int warp_cnt[kWarps];
  load_layout(layout, L);
  const uint32_t b = blockIdx.x;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const uint32_t NT = L.n_steps, K = L.K;
  Real* V = B.V + size_t(b) * L.n_state;
  Real* I = B.I + size_t(b) * L.n_state;
  uint8_t* fired = B.fired + size_t(b) * L.n_state;
  Real* ring = B.ring + size_t(b) * L.n_ring;
  TapeEntry<Real>* tape = B.tape + size_t(b) * L.tape_cap;
  int32_t* toff = B.tape_off + size_t(b) * (NT + 1);
  const uint32_t* in_off = B.in_off + size_t(b) * (NT + 1);
  Real* yacc = B.yacc + size_t(b) * K;
  Real* ymax = B.ymax + size_t(b) * K;
  int32_t* first = B.first + size_t(b) * K;
  int32_t* nstar = B.nstar + size_t(b) * K;
  // V, I, fired and the rings were zeroed by the host. Readout state is owned by thread
  // k mod kThreads, the same thread that updates output neuron k.
  for (uint32_t k = tid; k < K; k += kThreads) {
    yacc[k] = Real(0);
    ymax[k] = -INFINITY;
    first[k] = -1;
    nstar[k] = -1;
  }
  int32_t tape_n = 0;  // identical in every thread of the block
  bool overflow = false;
  for (int32_t n = 0; n < int32_t(NT); ++n) {
    const int32_t step_start = tape_n;
    if (tid == 0) toff[n] = step_start;
    for (uint32_t p = 0; p < L.n_pops; ++p) {
      const DevPop& pop = L.pops[p];
      if (pop.kind == kInput) continue;
      const StepConstants<Real> k = L.k[p];
      const uint32_t N = pop.size;
      Real* Vp = V + pop.state_off;
      Real* Ip = I + pop.state_off;
      Real* slot = ring + pop.ring_off + size_t(uint32_t(n) & pop.mask) * N;
      if (pop.kind == kLI) {
        for (uint32_t j = tid; j < N; j += kThreads) {
          Real v = Vp[j], i = Ip[j];
          neuron_step(k, v, i, slot[j]);
          Vp[j] = v;
          Ip[j] = i;
          if (p == L.output) accumulate_readout(L.readout, n, v, B.sumexp_w[n], NT, yacc[j], ymax[j], nstar[j]);
        }
        continue;
      }
      uint8_t* fp = pop.single_spike ? fired + pop.state_off : nullptr;
      for (uint32_t base = 0; base < N; base += kThreads) {
        const uint32_t j = base + tid;
        bool spk = false;
        Real x = Real(0);
        if (j < N) {
          Real v = Vp[j], i = Ip[j];
          const Real i0 = neuron_step(k, v, i, slot[j]);
          spk = lif_fire(k, i0, v, fp ? fp + j : nullptr, x);
          Vp[j] = v;
          Ip[j] = i;
          if (spk) {
            atomicAdd(B.counts + pop.count_off + j, 1u);  // integer: order-independent
            if (p == L.output && first[j] < 0) first[j] = n;
          }
        }
        // Ordered compaction: the tape holds this step's spikes in neuron order.
        const unsigned m = __ballot_sync(0xffffffffu, spk);
        if (lane == 0) warp_cnt[warp] = __popc(m);
        __syncthreads();
        int before = 0, total = 0;
        for (int w = 0; w < kWarps; ++w) {
          const int c = warp_cnt[w];
          total += c;
          if (w < warp) before += c;
        }
        if (spk) {
          const int32_t pos = tape_n + before + __popc(m & ((1u << lane) - 1u));
          if (pos < int32_t(L.tape_cap)) tape[pos] = TapeEntry<Real>{(p << kNeuronBits) | j, x};
        }
        tape_n += total;
        __syncthreads();
      }
    }
    if (tape_n > int32_t(L.tape_cap)) {  // uniform: the host grows the tape and re-runs
      overflow = true;
      break;
    }
    for (uint32_t e = in_off[n]; e < in_off[n + 1]; ++e) {
      const uint32_t id = B.in_id[e];
      deliver(L, B, ring, id >> kNeuronBits, id & kNeuronMask, n);
    }
    for (int32_t e = step_start; e < tape_n; ++e) {
      const uint32_t id = tape[e].id;
      deliver(L, B, ring, id >> kNeuronBits, id & kNeuronMask, n);
    }
    __syncthreads();
  }
  if (tid == 0) {
    B.tape_total[b] = tape_n;
    if (!overflow) toff[NT] = tape_n;
  }
}

// (a)/(d) of MODEL.md §3 for one spike, by one warp: gathers the targets' adjoint history at the
// arrival steps, adds the spike's gradients (mult times: repeated input spikes) to the
// sample's partial gradient and returns R (valid in every lane).
template <typename Real>
__device__ __forceinline__ Real warp_gather(const Layout<Real>& L, const Buffers<Real>& B,
                                            const Real* __restrict__ hv, const Real* __restrict__ hi,
                                            double* __restrict__ gacc, uint32_t pre, uint32_t i, int32_t n,
                                            uint32_t mult, int lane) {
  Real r = Real(0);
  const DevPop& pp = L.pops[pre];
  for (uint32_t o = 0; o < pp.n_out; ++o) {
    const DevConn& c = L.conns[pp.out[o]];
    const uint32_t N = c.n_post;
    const DevPop& tp = L.pops[c.post];
    const Real tau_s = L.k[c.post].tau_s;
    const size_t row = size_t(i) * N;
    const Real* __restrict__ w = B.w + c.weight_offset + row;
    const int32_t* __restrict__ s = B.s + c.delay_offset + row;
    double* __restrict__ gw = gacc + c.weight_offset + row;
    double* __restrict__ gd = gacc + c.delay_offset + row;
    const Real* hvp = hv + tp.ring_off;
    const Real* hip = hi + tp.ring_off;
    for (uint32_t j = lane; j < N; j += 32) {
      // The adjoint after the trial is 0: no contribution.
      if (arrival_step(n, s[j]) >= int32_t(L.n_steps)) continue;
      const size_t at = ring_row(n, s[j], tp.mask) * N + j;
      const Real lv = hvp[at], li = hip[at], wj = w[j];
      r += synapse_jump_term(wj, lv, li);
      for (uint32_t m = 0; m < mult; ++m) add_synapse_gradients(wj, lv, li, tau_s, gw[j], gd[j]);
    }
  }
  for (int off = 16; off > 0; off >>= 1) r += __shfl_xor_sync(0xffffffffu, r, off);
  return r;
}

template <typename Real>
__global__ void __launch_bounds__(kThreads) backward_kernel(const Layout<Real>* __restrict__ layout, Buffers<Real> B,
                                                            uint32_t b0) {
  __shared__ Layout<Real> L;
  load_layout(layout, L);
  const uint32_t bl = blockIdx.x, b = b0 + bl;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const uint32_t NT = L.n_steps, K = L.K;
  Real* lvs = B.V + size_t(b) * L.n_state;
  Real* lis = B.I + size_t(b) * L.n_state;
  Real* hv = B.ring + size_t(b) * L.n_ring;  // zeroed by the host
  Real* hi = B.hi + size_t(bl) * L.n_ring;   // zeroed by the host
  double* gacc = B.gpart + size_t(bl) * L.n_params;  // zeroed by the host
  const TapeEntry<Real>* tape = B.tape + size_t(b) * L.tape_cap;
  const int32_t* toff = B.tape_off + size_t(b) * (NT + 1);
  const uint32_t* boff = B.bin_off + size_t(b) * (NT + 1);
  const Real* g = B.g + size_t(b) * K;
  const int32_t* first = B.first + size_t(b) * K;
  const int32_t* nstar = B.nstar + size_t(b) * K;
  for (uint32_t j = tid; j < L.n_state; j += kThreads) {
    lvs[j] = Real(0);
    lis[j] = Real(0);
  }
  __syncthreads();
  const uint32_t out = L.output;
  for (int32_t n = int32_t(NT) - 1; n >= 0; --n) {
    // (a) jumps at this step's LIF spikes and (d) gradients of every spike of the step
    // (inputs too): each reads only history at steps > n, so all of them run in parallel.
    // A neuron spikes at most once per step, and repeated input spikes were merged, so no
    // two warps write the same gradient row or the same lambda_V.
    const int32_t t0 = toff[n], n_tape = toff[n + 1] - t0;
    const uint32_t i0 = boff[n];
    const int32_t total = n_tape + int32_t(boff[n + 1] - i0);
    for (int32_t item = warp; item < total; item += kWarps) {
      if (item < n_tape) {
        const TapeEntry<Real> e = tape[t0 + item];
        const uint32_t p = e.id >> kNeuronBits, q = e.id & kNeuronMask;
        Real r = warp_gather(L, B, hv, hi, gacc, p, q, n, 1u, lane);
        if (lane == 0) {
          const DevPop& pop = L.pops[p];
          if (p == out && L.readout == Readout::FirstSpike && first[q] == n) r += g[q];
          const uint32_t at = pop.state_off + q;
          spike_adjoint(L.k[p], pop.single_spike != 0, r, e.x, B.kick[at], lvs[at], lis[at]);
        }
      } else {
        const uint32_t e = i0 + uint32_t(item - n_tape);
        const uint32_t id = B.bin_id[e];
        warp_gather(L, B, hv, hi, gacc, id >> kNeuronBits, id & kNeuronMask, n, B.bin_mult[e], lane);
      }
    }
    __syncthreads();
    // Max readout jump, (b) one backward step per neuron, (c) store H[n].
    for (uint32_t p = 0; p < L.n_pops; ++p) {
      const DevPop& pop = L.pops[p];
      if (pop.kind == kInput) continue;
      const StepConstants<Real> k = L.k[p];
      const uint32_t N = pop.size;
      Real* lvp = lvs + pop.state_off;
      Real* lip = lis + pop.state_off;
      const size_t at = pop.ring_off + size_t(uint32_t(n) & pop.mask) * N;
      for (uint32_t j = tid; j < N; j += kThreads) {
        Real lv = lvp[j], li = lip[j];
        if (p == out) output_adjoint_step(k, L.readout, n, nstar[j], g[j], B.sumexp_density[n], L.inv_T, lv, li);
        else adjoint_step(k, Real(0), lv, li);
        lvp[j] = lv;
        lip[j] = li;
        hv[at + j] = lv;
        hi[at + j] = li;
      }
    }
    __syncthreads();
  }
}

// Adds the chunk's per-sample gradients to the exact sums (core/exact_sum.hpp: the same
// function as the CPU backend's, so the same per-sample gradients give the same bits, in
// any chunking). *bad becomes 1 if a value is not finite or out of range.
__global__ void reduce_grad_kernel(const double* __restrict__ gpart, uint32_t C, uint64_t P, int64_t* __restrict__ acc,
                                   uint32_t* __restrict__ bad) {
  for (uint64_t i = uint64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < P; i += uint64_t(gridDim.x) * blockDim.x) {
    int64_t* d = acc + i * ExactSum::kDigits;
    for (uint32_t c = 0; c < C; ++c)
      if (!exact_add(d, gpart[size_t(c) * P + i])) atomicExch(bad, 1u);
  }
}

// Owning device allocation that only grows (contents are lost when it grows).
template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (p_) cudaFree(p_);
  }
  void reserve(size_t n) {
    if (n <= cap_ && p_) return;
    if (p_) cudaFree(p_);
    p_ = nullptr;
    cap_ = 0;
    DP_CUDA(cudaMalloc(reinterpret_cast<void**>(&p_), std::max<size_t>(n, 1) * sizeof(T)));
    cap_ = std::max<size_t>(n, 1);
  }
  void upload(const std::vector<T>& v) {
    reserve(v.size());
    if (!v.empty()) DP_CUDA(cudaMemcpy(p_, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
  }
  void download(std::vector<T>& v, size_t n) const {
    v.resize(n);
    if (n) DP_CUDA(cudaMemcpy(v.data(), p_, n * sizeof(T), cudaMemcpyDeviceToHost));
  }
  void zero(size_t offset, size_t n) {
    if (n) DP_CUDA(cudaMemset(p_ + offset, 0, n * sizeof(T)));
  }
  T* get() const { return p_; }
  size_t bytes() const { return cap_ * sizeof(T); }

 private:
  T* p_ = nullptr;
  size_t cap_ = 0;
};

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  return end && *end == '\0' ? int(x) : fallback;
}

[[noreturn]] void fail_no_device() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  cudaGetLastError();
  fail("no CUDA device visible (cudaGetDeviceCount: ",
       e == cudaSuccess ? "0 devices" : cudaGetErrorString(e), ")");
}

template <typename Real>
class ResidentCuda;  // device-resident training (device_train.cuh)

template <typename Real>
class CudaEngine final : public Engine {
 public:
  CudaEngine(const Network& net, const EngineOptions& opt) : net_(net), opt_(opt) {
    const int count = cuda_device_count();
    if (count == 0) fail_no_device();
    // -1 ("auto") is resolved to the GPU of the node-local rank by the trainer
    // (dist::gpu_for_this_rank); here it means device 0.
    device_ = opt.device < 0 ? 0 : opt.device;
    require(device_ < count, "engine.device = ", opt.device, ": only ", count, " CUDA device(s) visible");
    DP_CUDA(cudaSetDevice(device_));
    build_layout();
  }

  void forward(std::span<const double> params, const SpikeBatch& batch, ForwardOutputs& out) override {
    require(!out.record_spikes, "engine: the cuda backend does not record spikes (spike rasters need engine.backend = \"cpu\")");
    const auto t0 = Clock::now();
    DP_CUDA(cudaSetDevice(device_));
    check_params(net_, params);
    check_batch(batch);
    load_params(params);
    run_forward(batch, out, t0);
  }

  ResidentTraining* resident() override;

  // The forward pass with the weights (w_) and delay steps (s_) already on the device; t0:
  // when the host preparation began.
  void run_forward(const SpikeBatch& batch, ForwardOutputs& out, Clock::time_point t0) {
    const uint32_t B = batch.n_samples;
    const uint32_t K = L_.K, NT = L_.n_steps;
    B_ = B;
    build_inputs(batch);

    V_.reserve(size_t(B) * L_.n_state);
    I_.reserve(size_t(B) * L_.n_state);
    fired_.reserve(size_t(B) * L_.n_state);
    ring_.reserve(size_t(B) * L_.n_ring);
    yacc_.reserve(size_t(B) * K);
    ymax_.reserve(size_t(B) * K);
    first_.reserve(size_t(B) * K);
    nstar_.reserve(size_t(B) * K);
    tape_off_.reserve(size_t(B) * (NT + 1));
    tape_total_.reserve(B);
    counts_.reserve(n_counts_);

    std::vector<int32_t> totals;
    DP_CUDA(cudaDeviceSynchronize());
    prof_.fwd_prep_ms = ms_since(t0);
    t0 = Clock::now();
    for (;;) {
      tape_.reserve(size_t(B) * tape_cap_);
      L_.tape_cap = tape_cap_;
      layout_.upload(layout_bytes());
      V_.zero(0, size_t(B) * L_.n_state);
      I_.zero(0, size_t(B) * L_.n_state);
      fired_.zero(0, size_t(B) * L_.n_state);
      ring_.zero(0, size_t(B) * L_.n_ring);
      counts_.zero(0, n_counts_);
      if (B > 0) {
        DP_LAUNCH(forward_kernel<Real>, B, kThreads, layout_ptr(), buffers());
        DP_CUDA(cudaGetLastError());
        DP_CUDA(cudaDeviceSynchronize());
      }
      tape_total_.download(totals, B);
      int32_t most = 0;
      for (int32_t t : totals) most = std::max(most, t);
      if (uint32_t(most) <= tape_cap_) break;
      // Never drop a spike: a block that ran out of tape stopped early; grow and re-run.
      require(tape_cap_ <= uint32_t(std::numeric_limits<int32_t>::max() / 2),
              "cuda engine: spike tape would exceed 2^31 entries per sample");
      tape_cap_ *= 2;
      ++prof_.tape_regrowths;
    }
    prof_.fwd_gpu_ms = ms_since(t0);
    prof_.tape_capacity = tape_cap_;
    t0 = Clock::now();

    out.n_samples = B;
    out.n_outputs = K;
    std::vector<Real> yacc, ymax;
    yacc_.download(yacc, size_t(B) * K);
    ymax_.download(ymax, size_t(B) * K);
    first_.download(out.first_spike_step, size_t(B) * K);
    std::vector<uint32_t> counts;
    counts_.download(counts, n_counts_);
    out.readout.assign(size_t(B) * K, 0.0);
    const Readout ro = net_.pops[net_.output].readout;
    for (size_t e = 0; e < size_t(B) * K; ++e)
      out.readout[e] = final_readout(ro, yacc[e], ymax[e], out.first_spike_step[e], net_.dt, net_.trial_ms());
    out.spike_counts.assign(net_.pops.size(), {});
    out.synaptic_events = 0;
    for (uint32_t p = 0; p < net_.pops.size(); ++p) {
      if (net_.pops[p].kind != PopKind::LIF) continue;
      const auto* c = counts.data() + L_.pops[p].count_off;
      out.spike_counts[p].assign(c, c + net_.pops[p].size);
      uint64_t n = 0;
      for (uint32_t v : out.spike_counts[p]) n += v;
      out.synaptic_events += n * fanout_[p];
    }
    out.synaptic_events += input_events_;
    out.hidden_spikes = 0;
    for (int32_t t : totals) out.hidden_spikes += uint64_t(t);
    out.input_spikes = batch.steps.size();
    have_forward_ = true;
    prof_.fwd_out_ms = ms_since(t0);
  }

  const CudaProfile& profile() const { return prof_; }

  void backward_exact(std::span<const double> params, const BackwardInputs& in, ExactVector& grad) override {
    require(have_forward_, "backward: no forward pass to differentiate");
    auto t0 = Clock::now();
    DP_CUDA(cudaSetDevice(device_));
    const uint32_t B = B_;
    check_backward_inputs(net_, B, in);
    (void)params;  // the Real copies loaded by forward() are used, as on the CPU

    std::vector<Real> g(in.output_grad.size());
    for (size_t e = 0; e < g.size(); ++e) g[e] = Real(in.output_grad[e]);
    g_.upload(g);
    std::vector<Real> kick(L_.n_state, Real(0));
    for (size_t p = 0; p < in.spike_kick.size(); ++p)
      for (size_t j = 0; j < in.spike_kick[p].size(); ++j) kick[L_.pops[p].state_off + j] = Real(in.spike_kick[p][j]);
    kick_.upload(kick);
    run_backward(t0);
    t0 = Clock::now();
    const size_t P = net_.n_params, n_digits = P * ExactSum::kDigits;
    grad.assign_zero(P);
    auto digits = grad.digits();
    if (n_digits) DP_CUDA(cudaMemcpy(digits.data(), acc_.get(), n_digits * sizeof(int64_t), cudaMemcpyDeviceToHost));
    zero_frozen_gradients(net_, grad);
    prof_.bwd_out_ms = ms_since(t0);
  }

  // The backward pass of the last forward with dL/dy (g_) and the kicks (kick_) on the
  // device, into the exact sums acc_ (n_params x kDigits digits, on the device); checks that
  // every sample's gradient was in range. t0: when the host preparation began.
  void run_backward(Clock::time_point t0) {
    const uint32_t B = B_;
    const size_t P = net_.n_params;
    const size_t n_digits = P * ExactSum::kDigits;
    acc_.reserve(n_digits);
    acc_.zero(0, n_digits);
    bad_.reserve(1);
    bad_.zero(0, 1);
    // Samples per launch: every sample's gradient and lambda_I history must fit.
    const size_t per_sample = P * sizeof(double) + L_.n_ring * sizeof(Real);
    size_t free_b = 0, total_b = 0;
    DP_CUDA(cudaMemGetInfo(&free_b, &total_b));
    const size_t have = gpart_.bytes() + hi_.bytes();
    const size_t budget = std::max<size_t>(std::min<size_t>(kChunkBudget, (free_b + have) / 2), per_sample);
    const uint32_t C = uint32_t(std::max<size_t>(1, std::min<size_t>(B, budget / per_sample)));
    gpart_.reserve(size_t(C) * P);
    hi_.reserve(size_t(C) * L_.n_ring);
    const Buffers<Real> bufs = buffers();
    DP_CUDA(cudaDeviceSynchronize());
    prof_.bwd_prep_ms = ms_since(t0);
    t0 = Clock::now();
    for (uint32_t b0 = 0; b0 < B; b0 += C) {
      const uint32_t c = std::min(C, B - b0);
      ring_.zero(size_t(b0) * L_.n_ring, size_t(c) * L_.n_ring);
      hi_.zero(0, size_t(c) * L_.n_ring);
      gpart_.zero(0, size_t(c) * P);
      DP_LAUNCH(backward_kernel<Real>, c, kThreads, layout_ptr(), bufs, b0);
      DP_CUDA(cudaGetLastError());
      const uint32_t blocks = uint32_t(std::min<size_t>((P + 255) / 256, 4096));
      DP_LAUNCH(reduce_grad_kernel, std::max(blocks, 1u), 256, gpart_.get(), c, P, acc_.get(), bad_.get());
      DP_CUDA(cudaGetLastError());
    }
    DP_CUDA(cudaDeviceSynchronize());
    prof_.bwd_gpu_ms = ms_since(t0);
    prof_.bwd_chunks = (B + C - 1) / C;
    t0 = Clock::now();
    std::vector<uint32_t> bad;
    bad_.download(bad, 1);
    require(bad[0] == 0, "backward: a sample's gradient is not finite or outside the exact-sum range (|g| >= 2^",
            ExactSum::kTopExp, ")");
  }

  size_t memory_bytes() const override {
    return layout_.bytes() + w_.bytes() + s_.bytes() + sumexp_w_.bytes() + sumexp_d_.bytes() + in_id_.bytes() +
           in_off_.bytes() + bin_id_.bytes() + bin_mult_.bytes() + bin_off_.bytes() + V_.bytes() + I_.bytes() +
           fired_.bytes() + ring_.bytes() + hi_.bytes() + tape_.bytes() + tape_off_.bytes() + tape_total_.bytes() +
           yacc_.bytes() + ymax_.bytes() + first_.bytes() + nstar_.bytes() + counts_.bytes() + g_.bytes() +
           kick_.bytes() + gpart_.bytes() + acc_.bytes() + bad_.bytes() + (resident_ ? resident_->memory_bytes() : 0);
  }

 private:
  template <typename>
  friend class ResidentCuda;
  static constexpr size_t kChunkBudget = size_t(8) << 30;  // bytes of per-sample backward buffers

  void build_layout() {
    const auto& pops = net_.pops;
    const auto& conns = net_.conns;
    require(pops.size() <= kMaxPops, "cuda engine: at most ", kMaxPops, " populations are supported, got ",
            pops.size());
    require(conns.size() <= kMaxConns, "cuda engine: at most ", kMaxConns, " connections are supported, got ",
            conns.size());
    L_ = Layout<Real>{};
    L_.n_pops = uint32_t(pops.size());
    L_.output = net_.output;
    L_.K = pops[net_.output].size;
    L_.n_steps = net_.n_steps;
    L_.readout = pops[net_.output].readout;
    L_.inv_T = Real(1.0 / net_.trial_ms());
    L_.n_params = net_.n_params;
    uint32_t state = 0, count = 0;
    uint64_t ring = 0, lif_neurons = 0;
    fanout_.assign(pops.size(), 0);
    for (uint32_t p = 0; p < pops.size(); ++p) {
      const auto& pop = pops[p];
      require(pop.size <= kNeuronMask, "cuda engine: population '", pop.name, "' has more than ", kNeuronMask,
              " neurons");
      DevPop& d = L_.pops[p];
      d.size = pop.size;
      d.kind = pop.kind == PopKind::Input ? kInput : pop.kind == PopKind::LIF ? kLIF : kLI;
      d.single_spike = pop.single_spike ? 1u : 0u;
      for (uint32_t c = 0; c < conns.size(); ++c) {
        if (conns[c].pre != p) continue;
        require(d.n_out < kMaxOut, "cuda engine: population '", pop.name, "' has more than ", kMaxOut,
                " outgoing connections");
        d.out[d.n_out++] = c;
        fanout_[p] += conns[c].n_post;
      }
      if (pop.kind == PopKind::Input) continue;
      L_.k[p] = make_step_constants<Real>(pop.tau_m, pop.tau_s, pop.theta, net_.dt);
      // One ring size serves both the arrivals (needs S_max + 1 slots) and the adjoint
      // history (S_max + 2), so that the arrival ring can be reused as history.
      const uint32_t slots = ring_slots_for(uint32_t(net_.max_incoming_delay_steps(p)) + 2);
      d.mask = slots - 1;
      d.state_off = state;
      d.ring_off = ring;
      state += pop.size;
      ring += uint64_t(slots) * pop.size;
      if (pop.kind == PopKind::LIF) {
        d.count_off = count;
        count += pop.size;
        lif_neurons += pop.size;
      }
    }
    for (uint32_t c = 0; c < conns.size(); ++c) {
      L_.conns[c].post = conns[c].post;
      L_.conns[c].n_post = conns[c].n_post;
      L_.conns[c].weight_offset = conns[c].weight_offset;
      L_.conns[c].delay_offset = conns[c].delay_offset;
    }
    L_.n_state = state;
    L_.n_ring = ring;
    n_counts_ = count;
    require(uint64_t(net_.n_steps) + 1 < uint64_t(std::numeric_limits<int32_t>::max()) / 2,
            "cuda engine: too many steps");
    // First guess for the tape: 8 spikes per LIF neuron and trial; it doubles when needed.
    tape_cap_ = uint32_t(std::clamp<uint64_t>(lif_neurons * 8, 1024, uint64_t(1) << 24));
    // Tests set a tiny start value to exercise the grow-and-re-run path.
    if (const int forced = env_int("DELAYPROP_CUDA_TAPE_INIT", 0); forced > 0) tape_cap_ = uint32_t(forced);

    const SumExpTables<Real> sumexp = make_sumexp_tables<Real>(net_);
    sumexp_w_.upload(sumexp.weight);
    sumexp_d_.upload(sumexp.density);
    chan_id_.clear();
    for (const InputNeuron& in : input_channel_map(net_)) chan_id_.push_back((in.pop << kNeuronBits) | in.neuron);
  }

  std::vector<uint8_t> layout_bytes() const {
    std::vector<uint8_t> v(sizeof(Layout<Real>));
    std::memcpy(v.data(), &L_, sizeof(Layout<Real>));
    return v;
  }
  const Layout<Real>* layout_ptr() const { return reinterpret_cast<const Layout<Real>*>(layout_.get()); }

  void check_batch(const SpikeBatch& batch) const {
    delayprop::check_batch(net_, batch);
    require(batch.steps.size() < uint64_t(std::numeric_limits<uint32_t>::max()),
            "cuda engine: more than 2^32 input spikes in one batch");
  }

  void load_params(std::span<const double> params) {
    std::vector<Real> w(net_.n_params, Real(0));
    std::vector<int32_t> s(net_.n_params, 0);
    for (const auto& c : net_.conns)
      for (size_t k = 0; k < c.n_synapses(); ++k) {
        w[c.weight_offset + k] = Real(params[c.weight_offset + k]);
        s[c.delay_offset + k] = delay_steps(params[c.delay_offset + k], net_.dt, c.max_delay_steps);
      }
    w_.upload(w);
    s_.upload(s);
  }

  // Input spikes as (population, neuron) ids with per-step offsets: in batch order for the
  // forward pass; merged per (step, id) with a multiplicity for the backward pass.
  void build_inputs(const SpikeBatch& batch) {
    const uint32_t B = batch.n_samples, NT = net_.n_steps;
    std::vector<uint32_t> id(batch.steps.size()), off(size_t(B) * (NT + 1));
    std::vector<uint32_t> bid, bmult, boff(size_t(B) * (NT + 1));
    bid.reserve(batch.steps.size());
    bmult.reserve(batch.steps.size());
    // seen[channel] = the (sample, step) stamp of its last spike; where = its merged entry.
    std::vector<uint64_t> seen(net_.n_input_channels, 0);
    std::vector<uint32_t> where(net_.n_input_channels, 0);
    input_events_ = 0;
    for (uint32_t b = 0; b < B; ++b) {
      uint64_t e = batch.offsets[b];
      const uint64_t end = batch.offsets[b + 1];
      for (uint32_t n = 0; n <= NT; ++n) {
        off[size_t(b) * (NT + 1) + n] = uint32_t(e);
        boff[size_t(b) * (NT + 1) + n] = uint32_t(bid.size());
        if (n == NT) break;
        const uint64_t stamp = uint64_t(b) * NT + n + 1;
        for (; e < end && batch.steps[e] == int32_t(n); ++e) {
          const uint32_t ch = batch.channels[e];
          id[e] = chan_id_[ch];
          input_events_ += fanout_[id[e] >> kNeuronBits];
          if (seen[ch] == stamp) {
            ++bmult[where[ch]];
          } else {
            seen[ch] = stamp;
            where[ch] = uint32_t(bid.size());
            bid.push_back(id[e]);
            bmult.push_back(1);
          }
        }
      }
    }
    in_id_.upload(id);
    in_off_.upload(off);
    bin_id_.upload(bid);
    bin_mult_.upload(bmult);
    bin_off_.upload(boff);
  }

  Buffers<Real> buffers() const {
    Buffers<Real> b{};
    b.w = w_.get();
    b.s = s_.get();
    b.sumexp_w = sumexp_w_.get();
    b.sumexp_density = sumexp_d_.get();
    b.in_id = in_id_.get();
    b.in_off = in_off_.get();
    b.bin_id = bin_id_.get();
    b.bin_mult = bin_mult_.get();
    b.bin_off = bin_off_.get();
    b.V = V_.get();
    b.I = I_.get();
    b.fired = fired_.get();
    b.ring = ring_.get();
    b.hi = hi_.get();
    b.tape = tape_.get();
    b.tape_off = tape_off_.get();
    b.tape_total = tape_total_.get();
    b.yacc = yacc_.get();
    b.ymax = ymax_.get();
    b.first = first_.get();
    b.nstar = nstar_.get();
    b.counts = counts_.get();
    b.g = g_.get();
    b.kick = kick_.get();
    b.gpart = gpart_.get();
    return b;
  }

  const Network net_;
  const EngineOptions opt_;
  int device_ = 0;
  Layout<Real> L_{};
  uint32_t n_counts_ = 0, tape_cap_ = 0, B_ = 0;
  uint64_t input_events_ = 0;
  CudaProfile prof_;
  bool have_forward_ = false;
  std::vector<uint64_t> fanout_;   // per population: synapses per spike
  std::vector<uint32_t> chan_id_;  // global input channel -> population << 24 | neuron

  DeviceBuffer<uint8_t> layout_;
  DeviceBuffer<Real> w_, sumexp_w_, sumexp_d_;
  DeviceBuffer<int32_t> s_;
  DeviceBuffer<uint32_t> in_id_, in_off_, bin_id_, bin_mult_, bin_off_;
  DeviceBuffer<Real> V_, I_, ring_, hi_, yacc_, ymax_, g_, kick_;
  DeviceBuffer<double> gpart_;
  DeviceBuffer<uint8_t> fired_;
  DeviceBuffer<TapeEntry<Real>> tape_;
  DeviceBuffer<int32_t> tape_off_, tape_total_, first_, nstar_;
  DeviceBuffer<uint32_t> counts_;
  DeviceBuffer<int64_t> acc_;  // exact sums of the per-sample gradients
  DeviceBuffer<uint32_t> bad_;
  std::unique_ptr<ResidentCuda<Real>> resident_;  // made on first use
};

}  // namespace
}  // namespace delayprop

#include "kernels/cuda/device_train.cuh"

namespace delayprop {
namespace {

template <typename Real>
ResidentTraining* CudaEngine<Real>::resident() {
  if (!resident_) resident_ = std::make_unique<ResidentCuda<Real>>(*this);
  return resident_.get();
}

}  // namespace

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device / no driver" error
    return 0;
  }
  return n;
}

CudaProbe cuda_probe() {
  CudaProbe p;
  if (cudaDriverGetVersion(&p.driver_version) != cudaSuccess) p.driver_version = 0;
  if (cudaRuntimeGetVersion(&p.runtime_version) != cudaSuccess) p.runtime_version = 0;
  cudaGetLastError();
  const cudaError_t e = cudaGetDeviceCount(&p.count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    p.count = 0;
    p.code = int(e);
    p.error = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(e) + " (code " + std::to_string(int(e)) + ")";
    if (p.driver_version > 0 && p.driver_version < p.runtime_version)
      p.error += "; the driver supports CUDA " + std::to_string(p.driver_version / 1000) + "." +
                 std::to_string(p.driver_version % 1000 / 10) + ", this build's runtime is CUDA " +
                 std::to_string(p.runtime_version / 1000) + "." + std::to_string(p.runtime_version % 1000 / 10);
  }
  return p;
}

std::string cuda_device_description(int device) {
  cudaDeviceProp prop{};
  DP_CUDA(cudaGetDeviceProperties(&prop, device));
  std::ostringstream os;
  os << prop.name << ", sm_" << prop.major << prop.minor << ", " << prop.multiProcessorCount << " SMs, "
     << double(prop.totalGlobalMem) / double(1ull << 30) << " GiB";
  return os.str();
}

void cuda_mem_info(int device, size_t& free_bytes, size_t& total_bytes) {
  DP_CUDA(cudaSetDevice(device));
  DP_CUDA(cudaMemGetInfo(&free_bytes, &total_bytes));
}

bool cuda_engine_profile(const Engine& engine, CudaProfile& prof) {
  if (const auto* e = dynamic_cast<const CudaEngine<float>*>(&engine)) prof = e->profile();
  else if (const auto* d = dynamic_cast<const CudaEngine<double>*>(&engine)) prof = d->profile();
  else return false;
  return true;
}

bool cuda_exact_sum_matches_cpu(uint64_t seed, std::string& detail) {
  // Per-sample gradients with magnitudes from 2^-80 to 2^40, both signs, some zeros.
  const uint32_t C = 7;
  const size_t P = 1000;
  std::vector<double> g(C * P);
  uint64_t x = seed | 1;
  for (double& v : g) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    const int e = int(x % 121) - 80;
    v = (x >> 40) % 5 == 0 ? 0.0 : ldexp(double(x >> 11) / 9007199254740992.0, e) * ((x >> 20) & 1 ? -1 : 1);
  }
  ExactVector cpu(P);
  std::vector<double> rows = g;
  if (!fold_sample_gradients(rows, C, cpu)) {
    detail = "a test value is out of the exact range";
    return false;
  }
  DeviceBuffer<double> gp;
  DeviceBuffer<int64_t> acc;
  DeviceBuffer<uint32_t> bad;
  gp.upload(g);
  bad.reserve(1);
  const size_t n_digits = P * ExactSum::kDigits;
  for (uint32_t chunk : {1u, 3u, C}) {
    acc.reserve(n_digits);
    acc.zero(0, n_digits);
    bad.zero(0, 1);
    for (uint32_t c0 = 0; c0 < C; c0 += chunk) {
      DP_LAUNCH(reduce_grad_kernel, 4, 64, gp.get() + size_t(c0) * P, std::min(chunk, C - c0), uint64_t(P), acc.get(),
                bad.get());
      DP_CUDA(cudaGetLastError());
    }
    DP_CUDA(cudaDeviceSynchronize());
    std::vector<int64_t> got;
    acc.download(got, n_digits);
    if (!std::equal(got.begin(), got.end(), cpu.digits().begin())) {
      detail = "the GPU's exact sums differ from the CPU's (chunks of " + std::to_string(chunk) + " samples)";
      return false;
    }
  }
  detail = "GPU and CPU exact sums of 7 x 1000 gradients identical for chunks of 1, 3 and 7 samples";
  return true;
}

std::unique_ptr<Engine> make_cuda_engine(const Network& net, const EngineOptions& opt) {
  if (opt.precision == Precision::Float64) return std::make_unique<CudaEngine<double>>(net, opt);
  return std::make_unique<CudaEngine<float>>(net, opt);
}

}  // namespace delayprop
