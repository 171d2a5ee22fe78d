#pragma once
// The CPU backend's per-spike synapse kernels (MODEL.md §2.3, §3.2 (a)+(d)), one set per
// instruction set, chosen at run time: the forward scatter of one spike into the arrival ring,
// the backward gather of one spike from the adjoint history with its gradients, the
// gradients of a sample's input spikes block by block, the neuron steps of a population, the
// adjoint steps with the store of the history row, and the fold into the exact sums.
//
// Every set gives the same bits (MODEL.md §3.2, "The order of R"): the scatter and the
// per-synapse gradients are element-wise; R = sum_j w_j (lambda_V - lambda_I)_j is summed in
// 16 lanes (synapse j of each outgoing connection, in declaration order, into lane j mod 16,
// in j order within a lane) and the lanes are added by one fixed tree (reduce_lanes) at the
// end of the spike; the scalar set emulates the lanes. The scalar set calls
// core/model_math.hpp; the vector sets spell the same operations (no contraction, no
// reassociation) in intrinsics and are tested bitwise against it (tests/unit/test_simd.cpp).
//
// This header only declares: the vector sets live in their own translation units, compiled
// for their instruction set, and are only called on a CPU that has it.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

#include "core/exact_sum.hpp"
#include "core/model_math.hpp"

namespace delayprop::cpu {

enum class Isa { Scalar, Avx2, Avx512 };

constexpr int kLanes = 16;  // the lane count of R's canonical order, for every set

const char* to_string(Isa isa);
// Whether this CPU (and OS) can run a set.
bool isa_supported(Isa isa);
// The best set this CPU runs.
Isa best_isa();
// "auto" (or "on": the environment variable DELAYPROP_SIMD, if set, else the best set),
// "scalar" (or "off"), "avx2", "avx512". Throws Error for an unknown name or a set this CPU
// cannot run.
Isa resolve_isa(const std::string& request);

// The neuron block width of the input ring (scatter_inputs) and of the adjoint histories:
// one 64-byte line of float32.
constexpr uint32_t kXWidth = 16;
// Neuron blocks that SynapseKernels::gradients may take in one pass over the spikes.
constexpr uint32_t kGradBlocks = 2;

// Adjoint histories hold (lambda_V, lambda_I) interleaved per cell, in blocks of kXWidth
// neurons (columns padded to whole blocks): the cell of (row, j) in a history of `rows` rows
// is hist_cell(row, j, rows), its lambda_V at hist[2 cell]. One block's rows are contiguous,
// so that a spike's 16 lanes read within a few KiB and a block's whole history fits in L2.
inline size_t hist_cell(size_t row, uint32_t j, uint32_t rows) {
  return size_t(j / kXWidth) * rows * kXWidth + row * kXWidth + j % kXWidth;
}
// The history row an arrival in step a reads: a & mask, or for an arrival at or after the
// trial's end `end` the last row, which is never written (zero). A history of every step has
// N_T + 1 rows (mask all ones: then min(a, N_T)), a ring 2^k slots and that row. Half of the
// arrivals are past the end with delays as long as the trial: they read one row in cache
// instead of random lines of S_max slots.
inline uint32_t hist_row(uint32_t a, uint32_t mask, uint32_t rows, uint32_t end) {
  return a < end ? a & mask : rows - 1;
}

// The ring slot of an arrival in step a: a & mask, or for an arrival at or after the trial's
// end `end` (never read) the slot of step `end`, which is not read again before the end:
// a spike with arrivals past the end comes at most S_max + 1 steps before it, after that
// slot's last read (at end - slots or earlier; input spikes are delivered at most
// slots - S_max - 1 steps ahead). The engine clears it once a sample. With delays as long as
// the trial, half of all arrivals are past its end: they then hit one row, in cache, instead
// of random lines of S_max rows.
inline uint32_t arrival_row(uint32_t a, uint32_t mask, uint32_t end) { return (a < end ? a : end) & mask; }
// Whether no delay of type D can take an arrival in step n1 = n + 1 (of a spike in step n) to
// the trial's end: the loops that add one synapse at a time then leave out arrival_row's
// clamp (a quarter of their instructions).
template <typename D>
bool before_end(uint32_t n1, uint32_t end) {
  return uint64_t(n1) + std::numeric_limits<D>::max() < end;
}

// The row stride (values) of an arrival ring of N neurons: whole 64-byte lines, one more
// where the rows would be a multiple of 4 KiB. Such rows (1024 float32 neurons) put the 16
// cells a spike's lanes hit in one L1 set, with the same low 12 address bits, so that every
// gather waited on the previous scatter: the forward at 1024 neurons took 1.7x as long. (An
// odd number of lines for every N gave no gain at 256 or 512 neurons and cost 2 threads 2 %.)
inline uint32_t ring_stride(uint32_t N, size_t value_bytes) {
  const size_t per_line = 64 / value_bytes;
  size_t lines = (N + per_line - 1) / per_line;
  if (lines % 64 == 0) ++lines;
  return uint32_t(lines * per_line);
}

// Row arguments: w, s the n_post weights and delays (steps) of one presynaptic neuron; N =
// n_post; n = the spike's step; mask = ring slots - 1; end = N_T. The arrival cell of
// synapse j is ring row arrival_row(n + 1 + s[j], mask, end), column j, at
// ring[row stride + j].
template <typename Real, typename D>
struct SynapseKernels {
  // ring[cell_j] += w[j] for every j.
  void (*scatter)(Real* ring, const Real* w, const D* s, uint32_t N, uint32_t stride, int32_t n, uint32_t mask,
                  uint32_t end);
  // hist: an adjoint history of `rows` rows (hist_cell), read at row
  // hist_row(n + 1 + s[j], mask, rows, end). Adds w[j] (lambda_V - lambda_I)_j
  // to lanes[j mod 16] (j ascending) and does gw[j] -= tau_s lambda_I,
  // gd[j] -= w (lambda_I - lambda_V) for every j (the sample's gradient, in Real: MODEL.md
  // §3.3).
  void (*gather)(const Real* hist, const Real* w, const D* s, uint32_t N, int32_t n, uint32_t mask, uint32_t rows,
                 uint32_t end, Real tau_s, Real* gw, Real* gd, Real* lanes);
  // The gradients of K spikes (MODEL.md §3.2 (d)) for a history of `rows` rows that holds
  // every step (row min(step + 1 + s[j], rows - 1): hist_row of such a history). w, s, gw,
  // gd are whole connections of n_pre rows (row i at i N); spike k is of presynaptic neuron
  // pre[k] in step steps[k].
  // Sets every gw, gd to 0, then for k = K-1 down to 0, for every j: gw[pre[k] N + j] -=
  // tau_s lambda_I, gd[...] -= w (lambda_I - lambda_V) at the arrival of spike k: each
  // gradient gets the same operations in the same order as from gather, spike by spike in
  // that order. Done neuron block by neuron block, so that the block's history stays in
  // cache; a set may sum up to kGradBlocks blocks in scratch (2 kXWidth kGradBlocks values
  // per presynaptic neuron, zero on entry and on return), which stays in cache, and write
  // the rows' blocks once.
  void (*gradients)(const Real* hist, const Real* w, const D* s, uint32_t N, uint32_t n_pre, const uint32_t* pre,
                    const int32_t* steps, uint32_t K, uint32_t rows, Real tau_s, Real* gw, Real* gd, Real* scratch);
  // The arrivals of K input spikes at once (MODEL.md §2.3: they do not depend on the network
  // state), into an input ring x laid out in blocks of kXWidth neurons: the cell of (row, j)
  // is x[(j / kXWidth) * slots * kXWidth + row * kXWidth + j % kXWidth], slots = mask + 1,
  // so that one block's rows are contiguous. Spike k of presynaptic neuron rows[k] in step
  // steps[k] adds, with w_k = w + rows[k] N, s_k = s + rows[k] N, for every j
  // x[cell of (arrival_row(steps[k] + 1 + s_k[j], mask, end), j)] += w_k[j], neuron block by
  // neuron block,
  // spikes in order within a block: each cell gets the same additions in the same order as
  // from K calls of scatter.
  void (*scatter_inputs)(Real* x, const Real* w, const D* s, const uint32_t* rows, const int32_t* steps, uint32_t K,
                         uint32_t N, uint32_t mask, uint32_t end);
};

// Folds the gradients of P parameters of n_samples samples (sample s's value of parameter i
// at sample_grads[s stride + i], in the engine precision, only read) into the exact sums
// digits (P x ExactSum::kDigits), like fold_sample_gradients (kernels/common.hpp): the same
// integers are added, so the digits are the same whatever the set. Returns false when a
// value is not finite or out of the exact range.
template <typename Real>
using FoldFn = bool (*)(const Real* sample_grads, uint32_t n_samples, size_t stride, size_t P, int64_t* digits);
constexpr uint32_t kFoldMax = 16;  // the vector fold's fast loop takes up to this many samples
template <typename Real>
FoldFn<Real> fold_for(Isa isa);
template <typename Real>
FoldFn<Real> avx512_fold();  // only where isa_supported(Isa::Avx512)
template <typename Real>
FoldFn<Real> avx2_fold();  // only where isa_supported(Isa::Avx2)

// R from the 16 lanes a spike's gathers left (reduce_lanes' tree, the same bits). The AVX-512
// set reads them as the register its gathers stored (a narrower load of part of that store
// waits for it to reach the cache: a fifth of the backward's own time).
template <typename Real>
using ReduceFn = Real (*)(const Real* lanes);
template <typename Real>
ReduceFn<Real> reduce_for(Isa isa);
template <typename Real>
ReduceFn<Real> avx512_reduce();  // only where isa_supported(Isa::Avx512)

// Rounds n exact sums (digits element-major, as in ExactVector) to the nearest doubles: the
// bits of round_sums (core/exact_sum.hpp), the scalar set's. Returns the index of the first
// sum that left the range (every such one is set to NaN), or n.
using RoundFn = ExactVector::RoundFn;
RoundFn round_for(Isa isa);
RoundFn avx512_round();  // only where isa_supported(Isa::Avx512)

// One backward step of a population's adjoints (MODEL.md §3 (b) with no loss density:
// adjoint_step(k, 0, lv[j], li[j]) for every j) when `step`, then row n of its history:
// (lv[j], li[j]) of block b at h + b hstride + 2 (j mod 16) (hist_cell). Element-wise: the
// same bits on every set.
template <typename Real>
using AdjointFn = void (*)(const StepConstants<Real>& k, bool step, Real* lv, Real* li, uint32_t N, Real* h,
                           size_t hstride);
template <typename Real>
AdjointFn<Real> adjoint_for(Isa isa);
template <typename Real>
AdjointFn<Real> avx512_adjoint();  // only where isa_supported(Isa::Avx512)

// One forward step of a population's N neurons (MODEL.md §2): for every j, neuron_step with
// this step's arrivals, the LIF arrivals' ring cell cell[j] and, where x is not null, the
// input arrivals' cell x[(j / kXWidth) xstride + j % kXWidth] (summed first: MODEL.md §2.3);
// the cells are cleared and i0[j] gets the current at the start of the step. Where spiked is
// not null, it then gets the j with v[j] >= k.theta, ascending (the neurons for lif_fire),
// and their count is returned. Element-wise: the same bits on every set.
template <typename Real>
using NeuronFn = uint32_t (*)(const StepConstants<Real>& k, Real* v, Real* i, Real* cell, Real* x, size_t xstride,
                              Real* i0, uint32_t N, uint32_t* spiked);
template <typename Real>
NeuronFn<Real> neuron_for(Isa isa);
template <typename Real>
NeuronFn<Real> avx512_neuron();  // only where isa_supported(Isa::Avx512)
template <typename Real>
NeuronFn<Real> avx2_neuron();  // only where isa_supported(Isa::Avx2)

template <typename Real, typename D>
SynapseKernels<Real, D> scalar_kernels();
template <typename Real, typename D>
SynapseKernels<Real, D> avx2_kernels();  // only where isa_supported(Isa::Avx2)
template <typename Real, typename D>
SynapseKernels<Real, D> avx512_kernels();  // only where isa_supported(Isa::Avx512)

template <typename Real, typename D>
SynapseKernels<Real, D> kernels_for(Isa isa) {
  if (isa == Isa::Avx512) return avx512_kernels<Real, D>();
  if (isa == Isa::Avx2) return avx2_kernels<Real, D>();
  return scalar_kernels<Real, D>();
}

// The canonical tree over the 16 lane sums: halves added lane-wise (16 -> 8 -> 4 -> 2 -> 1).
// The scalar set's ReduceFn.
template <typename Real>
inline Real reduce_lanes(const Real* lanes) {
  static_assert(kLanes == 16);
  // Spelled out level by level: a loop over the levels was not unrolled (1 % of a backward).
  Real p[8];
  for (int k = 0; k < 8; ++k) p[k] = lanes[k] + lanes[k + 8];
  for (int k = 0; k < 4; ++k) p[k] = p[k] + p[k + 4];
  for (int k = 0; k < 2; ++k) p[k] = p[k] + p[k + 2];
  return p[0] + p[1];
}

}  // namespace delayprop::cpu
