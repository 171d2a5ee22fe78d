// The scalar synapse kernels (the reference the vector sets are tested against) and the
// choice of a set at run time.
#include "kernels/cpu/simd.hpp"

#include <algorithm>
#include <cstdlib>

#include "core/error.hpp"
#include "core/exact_sum.hpp"
#include "core/model_math.hpp"
#include "kernels/common.hpp"

namespace delayprop::cpu {

const char* to_string(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    default: return "scalar";
  }
}

bool isa_supported(Isa isa) {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (isa == Isa::Avx512)
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512cd");
  if (isa == Isa::Avx2) return __builtin_cpu_supports("avx2");
#endif
  return isa == Isa::Scalar;
}

Isa best_isa() {
  if (isa_supported(Isa::Avx512)) return Isa::Avx512;
  if (isa_supported(Isa::Avx2)) return Isa::Avx2;
  return Isa::Scalar;
}

Isa resolve_isa(const std::string& request) {
  std::string r = request;
  if (r == "auto" || r == "on" || r.empty()) {
    const char* env = std::getenv("DELAYPROP_SIMD");
    if (!env || !*env || std::string(env) == "auto" || std::string(env) == "on") return best_isa();
    r = env;
  }
  Isa isa;
  if (r == "scalar" || r == "off") isa = Isa::Scalar;
  else if (r == "avx2") isa = Isa::Avx2;
  else if (r == "avx512") isa = Isa::Avx512;
  else throw Error("engine: unknown simd '" + r + "' (auto, scalar, avx2, avx512; or DELAYPROP_SIMD)");
  require(isa_supported(isa), "engine: simd '", r, "' is not supported by this CPU (best: ", to_string(best_isa()),
          ")");
  return isa;
}

namespace {

template <typename Real, typename D>
void scatter_scalar(Real* ring, const Real* w, const D* s, uint32_t N, uint32_t stride, int32_t n, uint32_t mask,
                    uint32_t end) {
  const uint32_t n1 = uint32_t(n) + 1;
  if (before_end<D>(n1, end)) {
    for (uint32_t j = 0; j < N; ++j) ring[size_t((n1 + uint32_t(s[j])) & mask) * stride + j] += w[j];
  } else {
    for (uint32_t j = 0; j < N; ++j) ring[size_t(arrival_row(n1 + uint32_t(s[j]), mask, end)) * stride + j] += w[j];
  }
}

template <typename Real, typename D>
void gather_scalar(const Real* hist, const Real* w, const D* s, uint32_t N, int32_t n, uint32_t mask, uint32_t rows,
                   uint32_t end, Real tau_s, Real* gw, Real* gd, Real* lanes) {
  for (uint32_t j = 0; j < N; ++j) {
    const size_t at = hist_cell(hist_row(uint32_t(arrival_step(n, int32_t(s[j]))), mask, rows, end), j, rows) * 2;
    const Real lv = hist[at], li = hist[at + 1];
    Real& lane = lanes[j % kLanes];
    lane += synapse_jump_term(w[j], lv, li);
    add_synapse_gradients(w[j], lv, li, tau_s, gw[j], gd[j]);
  }
}

template <typename Real, typename D>
void gradients_scalar(const Real* hist, const Real* w, const D* s, uint32_t N, uint32_t n_pre, const uint32_t* pre,
                      const int32_t* steps, uint32_t K, uint32_t rows, Real tau_s, Real* gw, Real* gd,
                      Real* /*scratch: not used*/) {
  std::fill_n(gw, size_t(n_pre) * N, Real(0));
  std::fill_n(gd, size_t(n_pre) * N, Real(0));
  for (uint32_t j0 = 0; j0 < N; j0 += kXWidth) {
    const uint32_t width = N - j0 < kXWidth ? N - j0 : kXWidth;
    for (uint32_t k = K; k-- > 0;) {
      const size_t at = size_t(pre[k]) * N + j0;
      for (uint32_t l = 0; l < width; ++l) {
        const uint32_t row = hist_row(uint32_t(arrival_step(steps[k], int32_t(s[at + l]))), ~0u, rows, rows - 1);
        const size_t c = hist_cell(row, j0 + l, rows) * 2;
        add_synapse_gradients(w[at + l], hist[c], hist[c + 1], tau_s, gw[at + l], gd[at + l]);
      }
    }
  }
}

template <typename Real, typename D>
void scatter_inputs_scalar(Real* x, const Real* w, const D* s, const uint32_t* rows, const int32_t* steps,
                           uint32_t K, uint32_t N, uint32_t mask, uint32_t end) {
  const size_t block = size_t(mask + 1) * kXWidth;
  for (uint32_t j0 = 0; j0 < N; j0 += kXWidth) {
    Real* xb = x + size_t(j0 / kXWidth) * block;
    const uint32_t width = N - j0 < kXWidth ? N - j0 : kXWidth;
    for (uint32_t k = 0; k < K; ++k) {
      const size_t at = size_t(rows[k]) * N + j0;
      const uint32_t n1 = uint32_t(steps[k]) + 1;
      if (before_end<D>(n1, end)) {
        for (uint32_t l = 0; l < width; ++l) xb[size_t((n1 + uint32_t(s[at + l])) & mask) * kXWidth + l] += w[at + l];
      } else {
        for (uint32_t l = 0; l < width; ++l)
          xb[size_t(arrival_row(n1 + uint32_t(s[at + l]), mask, end)) * kXWidth + l] += w[at + l];
      }
    }
  }
}

template <typename Real>
void adjoint_scalar(const StepConstants<Real>& k, bool step, Real* lv, Real* li, uint32_t N, Real* h,
                    size_t hstride) {
  if (step)
    for (uint32_t j = 0; j < N; ++j) adjoint_step(k, Real(0), lv[j], li[j]);
  for (uint32_t j0 = 0; j0 < N; j0 += kXWidth, h += hstride)
    for (uint32_t l = 0; l < kXWidth && j0 + l < N; ++l) {
      h[2 * l] = lv[j0 + l];
      h[2 * l + 1] = li[j0 + l];
    }
}

template <typename Real>
uint32_t neuron_scalar(const StepConstants<Real>& k, Real* v, Real* i, Real* cell, Real* x, size_t xstride, Real* i0,
                       uint32_t N, uint32_t* spiked) {
  if (x) {
    // Whole blocks with a fixed trip count, which the compiler vectorises.
    uint32_t j0 = 0;
    for (; j0 + kXWidth <= N; j0 += kXWidth, x += xstride)
      for (uint32_t l = 0; l < kXWidth; ++l) i0[j0 + l] = neuron_step(k, v[j0 + l], i[j0 + l], x[l], cell[j0 + l]);
    for (uint32_t l = 0; j0 + l < N; ++l) i0[j0 + l] = neuron_step(k, v[j0 + l], i[j0 + l], x[l], cell[j0 + l]);
  } else {
    for (uint32_t j = 0; j < N; ++j) i0[j] = neuron_step(k, v[j], i[j], cell[j]);
  }
  uint32_t n = 0;
  if (spiked)
    for (uint32_t j = 0; j < N; ++j)
      if (v[j] >= k.theta) spiked[n++] = j;
  return n;
}

}  // namespace

template <typename Real>
NeuronFn<Real> neuron_for(Isa isa) {
  if (isa == Isa::Avx512) return avx512_neuron<Real>();
  if (isa == Isa::Avx2) return avx2_neuron<Real>();
  return &neuron_scalar<Real>;
}
template NeuronFn<float> neuron_for<float>(Isa);
template NeuronFn<double> neuron_for<double>(Isa);

template <typename Real>
AdjointFn<Real> adjoint_for(Isa isa) {
  if (isa == Isa::Avx512) return avx512_adjoint<Real>();
  return &adjoint_scalar<Real>;
}
template AdjointFn<float> adjoint_for<float>(Isa);
template AdjointFn<double> adjoint_for<double>(Isa);

template <typename Real>
ReduceFn<Real> reduce_for(Isa isa) {
  if (isa == Isa::Avx512) return avx512_reduce<Real>();
  return &reduce_lanes<Real>;
}
template ReduceFn<float> reduce_for<float>(Isa);
template ReduceFn<double> reduce_for<double>(Isa);

RoundFn round_for(Isa isa) {
  if (isa == Isa::Avx512) return avx512_round();
  return &round_sums;
}

template <typename Real>
FoldFn<Real> fold_for(Isa isa) {
  if (isa == Isa::Avx512) return avx512_fold<Real>();
  if (isa == Isa::Avx2) return avx2_fold<Real>();
  return static_cast<FoldFn<Real>>(&fold_sample_gradients);
}
template FoldFn<float> fold_for<float>(Isa);
template FoldFn<double> fold_for<double>(Isa);

template <typename Real, typename D>
SynapseKernels<Real, D> scalar_kernels() {
  return {&scatter_scalar<Real, D>, &gather_scalar<Real, D>, &gradients_scalar<Real, D>,
          &scatter_inputs_scalar<Real, D>};
}
template SynapseKernels<float, uint8_t> scalar_kernels<float, uint8_t>();
template SynapseKernels<float, uint16_t> scalar_kernels<float, uint16_t>();
template SynapseKernels<float, int32_t> scalar_kernels<float, int32_t>();
template SynapseKernels<double, uint8_t> scalar_kernels<double, uint8_t>();
template SynapseKernels<double, uint16_t> scalar_kernels<double, uint16_t>();
template SynapseKernels<double, int32_t> scalar_kernels<double, int32_t>();

}  // namespace delayprop::cpu
