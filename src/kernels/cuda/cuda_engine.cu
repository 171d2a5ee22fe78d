// The batched CUDA backend: MODEL.md §2-§3 for every sample of a batch at once, with the CPU
// backend's numerics (kernels/cpu/cpu_engine.cpp is the reference; the step math is the
// shared core/model_math.hpp). Design, memory layout and determinism: docs/GPU.md.
//
// - Input arrivals (MODEL.md §2.3: X, summed apart from the LIF arrivals) are computed for the
//   whole trial before the time loop, one thread per (sample, target neuron).
// - One thread block per sample runs the whole time loop (one launch per forward, one per
//   backward chunk); threads own fixed neurons (j = threadIdx.x + k * kThreads).
// - Forward: per step, update every population (I += X + A), compact this step's spikes in
//   neuron order onto the sample's tape (warp ballots, no atomics), then deliver them in the
//   CPU's order (populations in order, neurons ascending) with threads over the
//   post-synaptic neurons: every arrival sum gets its additions in the same order as on the
//   CPU, so the forward pass is bit-identical.
// - Backward: per step, one warp per LIF spike gathers R (warp shuffle reduction) and adds
//   the spike's weight and delay gradients into the sample's own gradient row (no atomics);
//   then one adjoint step per neuron writes the history. The input spikes' gradients follow
//   in a separate kernel, from the full history of their targets. Per-sample partial
//   gradients are summed exactly: results are bitwise reproducible.
// - Memory per sample: V, I, X, the LIF arrival ring, the spike tape (grows by doubling: a
//   block that overflows stops, the batch is re-run) and, in backward, the adjoint history
//   and one partial gradient buffer.
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
// DP_LAUNCH_SHARED: with `shared` bytes of dynamic shared memory, which a kernel names with
// DP_DYNAMIC_SHARED(name) (unsigned char[], 16-byte aligned).
#ifdef DELAYPROP_CUDA_EMULATION
#define DP_LAUNCH(kernel, grid, block, ...) dp_emu::launch((grid), (block), [&] { kernel(__VA_ARGS__); })
#define DP_LAUNCH_SHARED(kernel, grid, block, shared, ...) \
  dp_emu::launch((grid), (block), [&] { kernel(__VA_ARGS__); }, (shared))
#define DP_LAUNCH_ON(stream, kernel, grid, block, ...) dp_emu::launch((grid), (block), [&] { kernel(__VA_ARGS__); })
#define DP_DYNAMIC_SHARED(name) unsigned char* name = dp_emu::dynamic_shared()
#else
#define DP_LAUNCH(kernel, grid, block, ...) kernel<<<(grid), (block)>>>(__VA_ARGS__)
#define DP_LAUNCH_SHARED(kernel, grid, block, shared, ...) kernel<<<(grid), (block), (shared)>>>(__VA_ARGS__)
#define DP_LAUNCH_ON(stream, kernel, grid, block, ...) kernel<<<(grid), (block), 0, (stream)>>>(__VA_ARGS__)
#define DP_DYNAMIC_SHARED(name) extern __shared__ __align__(16) unsigned char name[]
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
  uint32_t has_x;     // input populations project to it: its input arrivals are in X
  uint32_t hmask;     // adjoint history row mask: ring slots - 1, or all ones (every step)
  uint32_t ring_shared, hist_shared;  // ring / history in the block's shared memory (else global)
  uint32_t pad_;
  uint64_t ring_off;  // element offset of this population's ring in a sample's ring (shared or global)
  uint64_t x_off;     // element offset of its input arrivals [n_steps][size] in a sample's X
  uint64_t h_off;     // its adjoint history's offset in a sample's, in (lambda_V, lambda_I) pairs
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
  uint32_t K, n_steps, n_state, tape_cap;
  // input_arrivals_kernel: blocks over the neurons, windows of arrival steps (both per sample),
  // and the reach of an input spike (1 + the largest max delay of an input connection)
  uint32_t x_blocks, x_windows, x_reach;
  // Bytes of dynamic shared memory that hold the neuron state (forward: V, I, fired;
  // backward: lambda_V, lambda_I) ahead of the rings / histories; 0: the state is global.
  uint32_t shared_state_bytes, pad_;
  uint64_t n_ring, n_params;  // n_ring: a sample's arrival rings in global memory
  uint64_t n_x;     // a sample's input arrivals: every step of every population with has_x
  uint64_t n_hist;  // a sample's adjoint history in global memory, in (lambda_V, lambda_I) pairs
  uint64_t n_ring_shared, n_hist_shared;  // the same in shared memory (elements, pairs)
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
  const uint32_t* gin_b;       // input gradients: one item per (sample, channel with spikes)
  const uint32_t* gin_id;      // its input neuron, population << 24 | neuron
  const uint32_t* gin_off;     // [items + 1]: its spikes in gin_steps
  const int32_t* gin_steps;    // the channel's spike steps, descending (repeats adjacent)
  Real* X;                     // [B][n_x]: arrivals from input spikes (input_arrivals_kernel)
  Real* V;                     // [B][n_state]; lambda_V in backward
  Real* I;                     // [B][n_state]; lambda_I in backward
  uint8_t* fired;              // [B][n_state]
  Real* ring;                  // [B][n_ring]: arrivals from LIF spikes
  Real* hist;                  // [C][n_hist][2]: adjoint history (lambda_V, lambda_I)
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
  double* gpart;               // [C][n_params] per-sample gradients, in double
};

template <typename Real>
__device__ __forceinline__ void load_layout(const Layout<Real>* __restrict__ src, Layout<Real>& dst) {
  static_assert(sizeof(Layout<Real>) % 4 == 0);
  const uint32_t* s = reinterpret_cast<const uint32_t*>(src);
  uint32_t* d = reinterpret_cast<uint32_t*>(&dst);
  for (uint32_t i = threadIdx.x; i < sizeof(Layout<Real>) / 4; i += kThreads) d[i] = s[i];
  __syncthreads();
}

// Adds the arrivals of one LIF spike of neuron i (population pre) emitted in step n.
template <typename Real>
__device__ __forceinline__ void deliver(const Layout<Real>& L, const Buffers<Real>& B, Real* __restrict__ ring,
                                        Real* __restrict__ sring, uint32_t pre, uint32_t i, int32_t n) {
  const DevPop& pp = L.pops[pre];
  for (uint32_t o = 0; o < pp.n_out; ++o) {
    const DevConn& c = L.conns[pp.out[o]];
    const uint32_t N = c.n_post;
    const DevPop& tp = L.pops[c.post];
    const size_t row = size_t(i) * N;
    const Real* __restrict__ w = B.w + c.weight_offset + row;
    const int32_t* __restrict__ s = B.s + c.delay_offset + row;
    Real* __restrict__ r = (tp.ring_shared ? sring : ring) + tp.ring_off;
    for (uint32_t j = threadIdx.x; j < N; j += kThreads) {
      // Arrivals at or after the trial end are never read: skip them.
      if (arrival_step(n, s[j]) < int32_t(L.n_steps)) r[ring_row(n, s[j], tp.mask) * N + j] += w[j];
    }
  }
}

// MODEL.md §2.3: the arrivals of every input spike, outside the time loop. One thread per
// (sample, neuron of a population with has_x, window of arrival steps) owns that part of the
// neuron's column of X and adds the input spikes that can arrive in the window (emitted at
// most x_reach steps before it) in batch order, each with its connections in declaration
// order: every cell gets the CPU input ring's additions in the same order, from one thread.
// Windows multiply the independent chains of additions when the batch alone does not fill the
// GPU. Reads of w and s and the writes of X are coalesced over the neurons.
template <typename Real>
__global__ void __launch_bounds__(kThreads) input_arrivals_kernel(const Layout<Real>* __restrict__ layout,
                                                                  Buffers<Real> B) {
  __shared__ Layout<Real> L;
  load_layout(layout, L);
  const uint32_t per_sample = L.x_blocks * L.x_windows, r = blockIdx.x % per_sample;
  const uint32_t b = blockIdx.x / per_sample, win = r / L.x_blocks;
  uint32_t m = (r % L.x_blocks) * kThreads + threadIdx.x, P = 0;
  for (; P < L.n_pops; ++P) {
    if (!L.pops[P].has_x) continue;
    if (m < L.pops[P].size) break;
    m -= L.pops[P].size;
  }
  if (P == L.n_pops) return;  // past the last neuron: no barrier follows
  const uint32_t N = L.pops[P].size, NT = L.n_steps;
  Real* __restrict__ x = B.X + size_t(b) * L.n_x + L.pops[P].x_off + m;  // row stride N
  const int32_t a0 = int32_t(uint64_t(NT) * win / L.x_windows);
  const int32_t a1 = int32_t(uint64_t(NT) * (win + 1) / L.x_windows);  // this thread's rows [a0, a1)
  for (int32_t a = a0; a < a1; ++a) x[size_t(a) * N] = Real(0);
  const uint32_t* in_off = B.in_off + size_t(b) * (NT + 1);
  // Spikes of step n arrive at n + 1 .. n + x_reach: only steps max(0, a0 - x_reach) .. a1 - 2 matter.
  for (int32_t n = a0 > int32_t(L.x_reach) ? a0 - int32_t(L.x_reach) : 0; n < a1 - 1; ++n)
    for (uint32_t e = in_off[n]; e < in_off[n + 1]; ++e) {
      const uint32_t id = B.in_id[e];
      const DevPop& pp = L.pops[id >> kNeuronBits];
      const size_t at = size_t(id & kNeuronMask) * N + m;
      for (uint32_t o = 0; o < pp.n_out; ++o) {
        const DevConn& c = L.conns[pp.out[o]];
        if (c.post != P) continue;
        // Arrivals in other windows belong to other threads (those at or after the trial end
        // to none: they are never read).
        const int32_t a = arrival_step(n, B.s[c.delay_offset + at]);
        if (a >= a0 && a < a1) x[size_t(a) * N] += B.w[c.weight_offset + at];
      }
    }
}

template <typename Real>
__global__ void __launch_bounds__(kThreads) forward_kernel(const Layout<Real>* __restrict__ layout, Buffers<Real> B) {
  __shared__ Layout<Real> L;
  __shared__ int warp_cnt[kWarps];
  DP_DYNAMIC_SHARED(dyn);
  load_layout(layout, L);
  const uint32_t b = blockIdx.x;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const uint32_t NT = L.n_steps, K = L.K;
  // The state and the rings placed in shared memory are zeroed here, the global ones by the host.
  const bool shared_state = L.shared_state_bytes != 0;
  Real* V = shared_state ? reinterpret_cast<Real*>(dyn) : B.V + size_t(b) * L.n_state;
  Real* I = shared_state ? V + L.n_state : B.I + size_t(b) * L.n_state;
  uint8_t* fired = shared_state ? reinterpret_cast<uint8_t*>(I + L.n_state) : B.fired + size_t(b) * L.n_state;
  if (shared_state)
    for (uint32_t e = tid; e < L.n_state; e += kThreads) {
      V[e] = Real(0);
      I[e] = Real(0);
      fired[e] = 0;
    }
  Real* sring = reinterpret_cast<Real*>(dyn + L.shared_state_bytes);
  for (uint64_t e = tid; e < L.n_ring_shared; e += kThreads) sring[e] = Real(0);
  Real* ring = B.ring + size_t(b) * L.n_ring;
  const Real* X = B.X + size_t(b) * L.n_x;
  TapeEntry<Real>* tape = B.tape + size_t(b) * L.tape_cap;
  int32_t* toff = B.tape_off + size_t(b) * (NT + 1);
  Real* yacc = B.yacc + size_t(b) * K;
  Real* ymax = B.ymax + size_t(b) * K;
  int32_t* first = B.first + size_t(b) * K;
  int32_t* nstar = B.nstar + size_t(b) * K;
  // Readout state is owned by thread k mod kThreads, the same thread that updates output
  // neuron k.
  for (uint32_t k = tid; k < K; k += kThreads) {
    yacc[k] = Real(0);
    ymax[k] = -INFINITY;
    first[k] = -1;
    nstar[k] = -1;
  }
  __syncthreads();  // the shared state and rings are zero
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
      Real* slot = (pop.ring_shared ? sring : ring) + pop.ring_off + size_t(uint32_t(n) & pop.mask) * N;
      // This step's input arrivals (MODEL.md §2.3: added to the others' sum first).
      const Real* xs = pop.has_x ? X + pop.x_off + size_t(n) * N : nullptr;
      if (pop.kind == kLI) {
        for (uint32_t j = tid; j < N; j += kThreads) {
          Real v = Vp[j], i = Ip[j];
          if (xs) {
            Real x = xs[j];
            neuron_step(k, v, i, x, slot[j]);
          } else {
            neuron_step(k, v, i, slot[j]);
          }
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
          Real xj = xs ? xs[j] : Real(0);
          const Real i0 = xs ? neuron_step(k, v, i, xj, slot[j]) : neuron_step(k, v, i, slot[j]);
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
    for (int32_t e = step_start; e < tape_n; ++e) {
      const uint32_t id = tape[e].id;
      deliver(L, B, ring, sring, id >> kNeuronBits, id & kNeuronMask, n);
    }
    __syncthreads();
  }
  if (tid == 0) {
    B.tape_total[b] = tape_n;
    if (!overflow) toff[NT] = tape_n;
  }
}

// (a)/(d) of MODEL.md §3 for one LIF spike, by one warp: gathers the targets' adjoint history
// at the arrival steps, adds the spike's gradients to the sample's partial gradient and
// returns R (valid in every lane).
template <typename Real>
__device__ __forceinline__ Real warp_gather(const Layout<Real>& L, const Buffers<Real>& B, const Real* __restrict__ h,
                                            const Real* __restrict__ sh, double* __restrict__ gacc, uint32_t pre,
                                            uint32_t i, int32_t n, int lane) {
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
    const Real* hp = (tp.hist_shared ? sh : h) + 2 * tp.h_off;
    for (uint32_t j = lane; j < N; j += 32) {
      // The adjoint after the trial is 0: no contribution.
      if (arrival_step(n, s[j]) >= int32_t(L.n_steps)) continue;
      const size_t at = 2 * (ring_row(n, s[j], tp.hmask) * N + j);
      const Real lv = hp[at], li = hp[at + 1], wj = w[j];
      r += synapse_jump_term(wj, lv, li);
      add_synapse_gradients(wj, lv, li, tau_s, gw[j], gd[j]);
    }
  }
  for (int off = 16; off > 0; off >>= 1) r += __shfl_xor_sync(0xffffffffu, r, off);
  return r;
}

template <typename Real>
__global__ void __launch_bounds__(kThreads) backward_kernel(const Layout<Real>* __restrict__ layout, Buffers<Real> B,
                                                            uint32_t b0) {
  __shared__ Layout<Real> L;
  DP_DYNAMIC_SHARED(dyn);
  load_layout(layout, L);
  Real* sh = reinterpret_cast<Real*>(dyn + L.shared_state_bytes);  // the histories placed in shared memory
  const uint32_t bl = blockIdx.x, b = b0 + bl;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const uint32_t NT = L.n_steps, K = L.K;
  const bool shared_state = L.shared_state_bytes != 0;
  Real* lvs = shared_state ? reinterpret_cast<Real*>(dyn) : B.V + size_t(b) * L.n_state;
  Real* lis = shared_state ? lvs + L.n_state : B.I + size_t(b) * L.n_state;
  // Not cleared: a row is written before it is read (arrivals are later steps, and a ring
  // has at least S_max + 2 slots).
  Real* h = B.hist + size_t(bl) * 2 * L.n_hist;
  double* gacc = B.gpart + size_t(bl) * L.n_params;  // zeroed by the host
  const TapeEntry<Real>* tape = B.tape + size_t(b) * L.tape_cap;
  const int32_t* toff = B.tape_off + size_t(b) * (NT + 1);
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
    // (a) jumps at this step's LIF spikes and their gradients (d): each reads only history
    // at steps > n, so all of them run in parallel. A neuron spikes at most once per step, so
    // no two warps write the same gradient row or the same lambda_V. The input spikes'
    // gradients come after the loop (input_grad_kernel).
    const int32_t t0 = toff[n], n_tape = toff[n + 1] - t0;
    for (int32_t item = warp; item < n_tape; item += kWarps) {
      const TapeEntry<Real> e = tape[t0 + item];
      const uint32_t p = e.id >> kNeuronBits, q = e.id & kNeuronMask;
      Real r = warp_gather(L, B, h, sh, gacc, p, q, n, lane);
      if (lane == 0) {
        const DevPop& pop = L.pops[p];
        if (p == out && L.readout == Readout::FirstSpike && first[q] == n) r += g[q];
        const uint32_t at = pop.state_off + q;
        spike_adjoint(L.k[p], pop.single_spike != 0, r, e.x, B.kick[at], lvs[at], lis[at]);
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
      Real* hrow = (pop.hist_shared ? sh : h) + 2 * (pop.h_off + size_t(uint32_t(n) & pop.hmask) * N);
      for (uint32_t j = tid; j < N; j += kThreads) {
        Real lv = lvp[j], li = lip[j];
        if (p == out) output_adjoint_step(k, L.readout, n, nstar[j], g[j], B.sumexp_density[n], L.inv_T, lv, li);
        else adjoint_step(k, Real(0), lv, li);
        lvp[j] = lv;
        lip[j] = li;
        hrow[2 * j] = lv;
        hrow[2 * j + 1] = li;
      }
    }
    __syncthreads();
  }
}

// (d) of MODEL.md §3.2 for the input spikes, after backward_kernel, from the full adjoint
// history of their targets (has_x: every step kept). One block per (sample, input channel
// with spikes), threads over the post-synaptic neurons: a thread owns one synapse's weight
// and delay gradient and adds the channel's spikes in the CPU's order (steps descending,
// repeated spikes one after the other), so each gets the same additions as on the CPU.
// Items of different channels write different gradient rows: no atomics.
template <typename Real>
__global__ void __launch_bounds__(kThreads) input_grad_kernel(const Layout<Real>* __restrict__ layout, Buffers<Real> B,
                                                              uint32_t item0, uint32_t b0) {
  __shared__ Layout<Real> L;
  load_layout(layout, L);
  const uint32_t item = item0 + blockIdx.x;
  const uint32_t bl = B.gin_b[item] - b0, id = B.gin_id[item];
  const int32_t* steps = B.gin_steps + B.gin_off[item];
  const uint32_t n_spikes = B.gin_off[item + 1] - B.gin_off[item];
  const Real* h = B.hist + size_t(bl) * 2 * L.n_hist;
  double* gacc = B.gpart + size_t(bl) * L.n_params;
  const DevPop& pp = L.pops[id >> kNeuronBits];
  for (uint32_t o = 0; o < pp.n_out; ++o) {
    const DevConn& c = L.conns[pp.out[o]];
    const uint32_t N = c.n_post;
    const DevPop& tp = L.pops[c.post];
    const Real tau_s = L.k[c.post].tau_s;
    const size_t row = size_t(id & kNeuronMask) * N;
    const Real* hp = h + 2 * tp.h_off;
    for (uint32_t j = threadIdx.x; j < N; j += kThreads) {
      const Real wj = B.w[c.weight_offset + row + j];
      const int32_t s = B.s[c.delay_offset + row + j];
      double gw = gacc[c.weight_offset + row + j], gd = gacc[c.delay_offset + row + j];
      for (uint32_t e = 0; e < n_spikes; ++e) {
        const int32_t a = arrival_step(steps[e], s);
        if (a >= int32_t(L.n_steps)) continue;  // the adjoint after the trial is 0
        const size_t at = 2 * (size_t(uint32_t(a) & tp.hmask) * N + j);
        add_synapse_gradients(wj, hp[at], hp[at + 1], tau_s, gw, gd);
      }
      gacc[c.weight_offset + row + j] = gw;
      gacc[c.delay_offset + row + j] = gd;
    }
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
  void release() {
    if (p_) cudaFree(p_);
    p_ = nullptr;
    cap_ = 0;
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
    DP_CUDA(cudaDeviceGetAttribute(&sm_count_, cudaDevAttrMultiProcessorCount, device_));
    DP_CUDA(cudaDeviceGetAttribute(&smem_per_sm_, cudaDevAttrMaxSharedMemoryPerMultiprocessor, device_));
    DP_CUDA(cudaDeviceGetAttribute(&smem_per_block_, cudaDevAttrMaxSharedMemoryPerBlockOptin, device_));
    sm_count_ = std::max(sm_count_, 1);
    build_layout();
  }

  void forward(std::span<const double> params, const SpikeBatch& batch, ForwardOutputs& out) override {
    require(!out.record_spikes, "engine: the cuda backend does not record spikes (spike rasters need engine.backend = \"cpu\")");
    const auto t0 = Clock::now();
    DP_CUDA(cudaSetDevice(device_));
    check_params(net_, params);
    check_batch(batch);
    load_params(params);
    build_inputs(batch);
    run_forward(batch.n_samples, batch.steps.size(), out, t0);
  }

  ResidentTraining* resident() override;

  // The forward pass of B samples with n_input_spikes input spikes, with the weights (w_), the
  // delay steps (s_) and the input lists (build_inputs' buffers, gin_sample_off_,
  // input_events_) already in place; t0: when the host preparation began.
  void run_forward(uint32_t B, uint64_t n_input_spikes, ForwardOutputs& out, Clock::time_point t0) {
    const uint32_t K = L_.K, NT = L_.n_steps;
    B_ = B;
    place_buffers(shared_budget(B));
    // Windows of arrival steps for input_arrivals_kernel, so that it has about a full GPU's
    // threads (2048 per SM) when the batch has fewer; a window at least x_reach steps long, so
    // that no spike is scanned by more than two windows.
    const uint64_t full = uint64_t(sm_count_) * (2048 / kThreads), have = std::max<uint64_t>(uint64_t(B) * L_.x_blocks, 1);
    L_.x_windows = uint32_t(std::clamp<uint64_t>((full + have - 1) / have, 1, std::max<uint32_t>(NT / L_.x_reach, 1)));
    const size_t ring_shared = L_.shared_state_bytes + L_.n_ring_shared * sizeof(Real);
    prof_.shared_ring_bytes = ring_shared;
    prof_.shared_hist_bytes = L_.shared_state_bytes + L_.n_hist_shared * 2 * sizeof(Real);

    V_.reserve(size_t(B) * L_.n_state);
    I_.reserve(size_t(B) * L_.n_state);
    fired_.reserve(size_t(B) * L_.n_state);
    ring_.reserve(size_t(B) * L_.n_ring);
    X_.reserve(size_t(B) * L_.n_x);
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
    if (B > 0 && L_.n_x > 0) {  // the input arrivals, once (the tape re-runs reuse them)
      layout_.upload(layout_bytes());
      DP_LAUNCH(input_arrivals_kernel<Real>, B * L_.x_blocks * L_.x_windows, kThreads, layout_ptr(), buffers());
      DP_CUDA(cudaGetLastError());
    }
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
        DP_CUDA(cudaFuncSetAttribute(forward_kernel<Real>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(ring_shared)));
        DP_LAUNCH_SHARED(forward_kernel<Real>, B, kThreads, ring_shared, layout_ptr(), buffers());
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
    out.input_spikes = n_input_spikes;
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
    // Samples per launch: every sample's gradient and adjoint history must fit.
    const size_t per_sample = P * sizeof(double) + 2 * L_.n_hist * sizeof(Real);
    size_t free_b = 0, total_b = 0;
    DP_CUDA(cudaMemGetInfo(&free_b, &total_b));
    const size_t have = gpart_.bytes() + hist_.bytes();
    const size_t budget = std::max<size_t>(std::min<size_t>(kChunkBudget, (free_b + have) / 2), per_sample);
    const uint32_t C = uint32_t(std::max<size_t>(1, std::min<size_t>(B, budget / per_sample)));
    gpart_.reserve(size_t(C) * P);
    hist_.reserve(size_t(C) * 2 * L_.n_hist);
    const Buffers<Real> bufs = buffers();
    const size_t hist_shared = L_.shared_state_bytes + L_.n_hist_shared * 2 * sizeof(Real);
    DP_CUDA(cudaFuncSetAttribute(backward_kernel<Real>, cudaFuncAttributeMaxDynamicSharedMemorySize, int(hist_shared)));
    DP_CUDA(cudaDeviceSynchronize());
    prof_.bwd_prep_ms = ms_since(t0);
    t0 = Clock::now();
    for (uint32_t b0 = 0; b0 < B; b0 += C) {
      const uint32_t c = std::min(C, B - b0);
      gpart_.zero(0, size_t(c) * P);
      DP_LAUNCH_SHARED(backward_kernel<Real>, c, kThreads, hist_shared, layout_ptr(), bufs, b0);
      DP_CUDA(cudaGetLastError());
      const uint32_t item0 = gin_sample_off_[b0], items = gin_sample_off_[b0 + c] - item0;
      if (items > 0) {
        DP_LAUNCH(input_grad_kernel<Real>, items, kThreads, layout_ptr(), bufs, item0, b0);
        DP_CUDA(cudaGetLastError());
      }
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
           in_off_.bytes() + gin_b_.bytes() + gin_id_.bytes() + gin_off_.bytes() + gin_steps_.bytes() + X_.bytes() +
           V_.bytes() + I_.bytes() + fired_.bytes() + ring_.bytes() + hist_.bytes() + tape_.bytes() + tape_off_.bytes() + tape_total_.bytes() +
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
    uint64_t lif_neurons = 0, n_x = 0, x_neurons = 0;
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
      // The arrival ring takes only LIF spikes (S_max + 1 slots over the other populations'
      // connections); input arrivals are kept for every step in X. The adjoint history is a
      // ring of S_max + 2 slots, or every step for targets of input populations, whose
      // gradients input_grad_kernel computes after the backward pass.
      uint32_t smax_lif = 0;
      for (const auto& c : conns)
        if (c.post == p && pops[c.pre].kind == PopKind::Input) d.has_x = 1;
        else if (c.post == p) smax_lif = std::max(smax_lif, uint32_t(c.max_delay_steps));
      const uint32_t slots = ring_slots_for(smax_lif + 1);
      d.mask = slots - 1;
      d.state_off = state;
      state += pop.size;
      if (d.has_x) {
        d.hmask = ~0u;
        d.x_off = n_x;
        n_x += uint64_t(net_.n_steps) * pop.size;
        x_neurons += pop.size;
      } else {
        d.hmask = ring_slots_for(uint32_t(net_.max_incoming_delay_steps(p)) + 2) - 1;
      }
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
    place_buffers(0);
    L_.n_x = n_x;
    L_.x_blocks = uint32_t((x_neurons + kThreads - 1) / kThreads);
    L_.x_reach = 1;
    for (const auto& c : conns)
      if (pops[c.pre].kind == PopKind::Input) L_.x_reach = std::max(L_.x_reach, uint32_t(c.max_delay_steps) + 1);
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

  // Places the neuron state and every population's arrival ring and adjoint history: in the
  // block's dynamic shared memory while they fit in `budget` bytes (each kernel has its own:
  // state and rings in forward, state and histories in backward), in global memory otherwise. Histories of every step (has_x) stay
  // global: input_grad_kernel reads them after backward_kernel.
  void place_buffers(size_t budget) {
    // The neuron state first: every neuron reads and writes it every step.
    const size_t state = (size_t(L_.n_state) * (2 * sizeof(Real) + 1) + 15) / 16 * 16;
    L_.shared_state_bytes = state <= budget && L_.n_state > 0 ? uint32_t(state) : 0;
    budget -= L_.shared_state_bytes;
    uint64_t ring = 0, sring = 0, hist = 0, shist = 0;
    for (uint32_t p = 0; p < L_.n_pops; ++p) {
      DevPop& d = L_.pops[p];
      if (d.kind == kInput) continue;
      const uint64_t rn = uint64_t(d.mask + 1) * d.size;
      d.ring_shared = (sring + rn) * sizeof(Real) <= budget;
      uint64_t& r = d.ring_shared ? sring : ring;
      d.ring_off = r;
      r += rn;
      const uint64_t hn = (d.has_x ? uint64_t(net_.n_steps) : uint64_t(d.hmask) + 1) * d.size;
      d.hist_shared = !d.has_x && (shist + hn) * 2 * sizeof(Real) <= budget;
      uint64_t& h = d.hist_shared ? shist : hist;
      d.h_off = h;
      h += hn;
    }
    L_.n_ring = ring;
    L_.n_ring_shared = sring;
    L_.n_hist = hist;
    L_.n_hist_shared = shist;
  }

  // Dynamic shared memory per block for the rings or histories: the SM's shared memory split
  // over the blocks it must hold to run B samples in one wave (at least one, at most as many
  // as its threads allow), less the kernels' static shared memory and the 1 KiB the runtime
  // reserves per block; at most the per-block limit. DELAYPROP_CUDA_SHARED_BUDGET=<bytes>
  // overrides it (tests: 0 keeps everything global, a small value splits the populations).
  size_t shared_budget(uint32_t B) const {
    if (const int forced = env_int("DELAYPROP_CUDA_SHARED_BUDGET", -1); forced >= 0) return size_t(forced);
    const uint32_t max_blocks = uint32_t(2048 / kThreads);
    const uint32_t per_sm = std::clamp<uint32_t>((B + sm_count_ - 1) / uint32_t(sm_count_), 1, max_blocks);
    const size_t fixed = sizeof(Layout<Real>) + kWarps * sizeof(int) + 256;  // static shared, rounded up
    const size_t share = size_t(smem_per_sm_) / per_sm;
    const size_t reserved = 1024 + fixed;
    const size_t limit = size_t(smem_per_block_) > fixed ? size_t(smem_per_block_) - fixed : 0;
    return std::min(share > reserved ? share - reserved : 0, limit);
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

  // Input spikes as (population, neuron) ids: in batch order with per-step offsets for
  // input_arrivals_kernel; grouped per (sample, channel), steps descending, for
  // input_grad_kernel (the order of the CPU backend's input gradients). The resident path's
  // data set holds the same lists per sample (sample_inputs) and assembles them on the device
  // (ResidentCuda::forward of sample indices).
  void build_inputs(const SpikeBatch& batch) {
    const uint32_t B = batch.n_samples, NT = net_.n_steps;
    std::vector<uint32_t> id(batch.steps.size()), off(size_t(B) * (NT + 1));
    std::vector<uint32_t> gb, gid, goff;
    std::vector<int32_t> gsteps(batch.steps.size());
    gin_sample_off_.assign(size_t(B) + 1, 0);
    input_events_ = 0;
    for (uint32_t b = 0; b < B; ++b) {
      const uint64_t begin = batch.offsets[b];
      input_events_ += sample_inputs(batch, b, uint32_t(begin), id.data() + begin, off.data() + size_t(b) * (NT + 1),
                                     gsteps.data() + begin, gid, goff);
      gb.resize(gid.size(), b);
      gin_sample_off_[b + 1] = uint32_t(gb.size());
    }
    goff.push_back(uint32_t(batch.steps.size()));
    in_id_.upload(id);
    in_off_.upload(off);
    gin_b_.upload(gb);
    gin_id_.upload(gid);
    gin_off_.upload(goff);
    gin_steps_.upload(gsteps);
  }

  // The input lists of sample b of `batch`, its first spike numbered `base`: id[k], the id of
  // its k-th spike (batch order); off[n], n <= n_steps, base + its first spike at or after
  // step n; for each channel with spikes (channels ascending) an item appended to gid (its
  // input neuron) and goff (base + its first entry in gsteps); gsteps[k], the channel groups'
  // steps, each group in reverse batch order (steps descending, within a step batch order
  // reversed). Returns the synaptic events of its spikes.
  uint64_t sample_inputs(const SpikeBatch& batch, uint32_t b, uint32_t base, uint32_t* id, uint32_t* off,
                         int32_t* gsteps, std::vector<uint32_t>& gid, std::vector<uint32_t>& goff) {
    const uint32_t NT = net_.n_steps, C = net_.n_input_channels;
    const uint64_t begin = batch.offsets[b], end = batch.offsets[b + 1];
    uint64_t events = 0, e = begin;
    for (uint32_t n = 0; n <= NT; ++n) {
      off[n] = base + uint32_t(e - begin);
      if (n == NT) break;
      for (; e < end && batch.steps[e] == int32_t(n); ++e) {
        id[e - begin] = chan_id_[batch.channels[e]];
        events += fanout_[id[e - begin] >> kNeuronBits];
      }
    }
    count_.assign(C, 0u);
    fill_.assign(C, 0u);
    for (uint64_t k = begin; k < end; ++k) ++count_[batch.channels[k]];
    uint32_t at = 0;
    for (uint32_t ch = 0; ch < C; ++ch) {
      fill_[ch] = at;
      if (count_[ch] == 0) continue;
      gid.push_back(chan_id_[ch]);
      goff.push_back(base + at);
      at += count_[ch];
    }
    for (uint64_t k = end; k-- > begin;) gsteps[fill_[batch.channels[k]]++] = batch.steps[k];
    return events;
  }

  Buffers<Real> buffers() const {
    Buffers<Real> b{};
    b.w = w_.get();
    b.s = s_.get();
    b.sumexp_w = sumexp_w_.get();
    b.sumexp_density = sumexp_d_.get();
    b.in_id = in_id_.get();
    b.in_off = in_off_.get();
    b.gin_b = gin_b_.get();
    b.gin_id = gin_id_.get();
    b.gin_off = gin_off_.get();
    b.gin_steps = gin_steps_.get();
    b.X = X_.get();
    b.V = V_.get();
    b.I = I_.get();
    b.fired = fired_.get();
    b.ring = ring_.get();
    b.hist = hist_.get();
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
  int sm_count_ = 1, smem_per_sm_ = 0, smem_per_block_ = 0;  // device attributes
  Layout<Real> L_{};
  uint32_t n_counts_ = 0, tape_cap_ = 0, B_ = 0;
  uint64_t input_events_ = 0;
  CudaProfile prof_;
  bool have_forward_ = false;
  std::vector<uint64_t> fanout_;   // per population: synapses per spike
  std::vector<uint32_t> chan_id_;  // global input channel -> population << 24 | neuron
  std::vector<uint32_t> gin_sample_off_;  // [B + 1]: each sample's first input_grad_kernel item
  std::vector<uint32_t> count_, fill_;    // sample_inputs' scratch, per input channel

  DeviceBuffer<uint8_t> layout_;
  DeviceBuffer<Real> w_, sumexp_w_, sumexp_d_;
  DeviceBuffer<int32_t> s_;
  DeviceBuffer<uint32_t> in_id_, in_off_, gin_b_, gin_id_, gin_off_;
  DeviceBuffer<int32_t> gin_steps_;
  DeviceBuffer<Real> V_, I_, ring_, hist_, X_, yacc_, ymax_, g_, kick_;
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
