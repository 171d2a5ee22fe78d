// The AVX2 synapse kernels, neuron steps and float32 fold: 16 synapses per step, the lanes of R's canonical
// order held in two registers (float) or four (double). See kernels/cpu/simd.hpp. Only called on a CPU that has
// AVX2; everything in this file is compiled for it and has internal linkage. AVX2 has no
// scatter store: the forward scatter computes the 16 cells in a register and adds one by one.
// GCC 12's intrinsics headers trip -Wmaybe-uninitialized on their own "undefined" operands.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "core/exact_sum.hpp"
#include "kernels/common.hpp"
#include "kernels/cpu/simd.hpp"

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2")

namespace delayprop::cpu {
namespace {

inline __m256i load8(const uint8_t* s) {
  return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(s)));
}
inline __m256i load8(const uint16_t* s) {
  return _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s)));
}
inline __m256i load8(const int32_t* s) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s)); }

// Cell indices arrival_row(n + 1 + s[j], mask, end) * stride + j of synapses j0 .. j0 + 7 (the
// caller keeps ring slots x stride below 2^31).
struct Cells {
  __m256i n1, mask, end, stride, iota;
  Cells(int32_t n, uint32_t m, uint32_t e, uint32_t stride_)
      : n1(_mm256_set1_epi32(int(uint32_t(n) + 1))),
        mask(_mm256_set1_epi32(int(m))),
        end(_mm256_set1_epi32(int(e))),
        stride(_mm256_set1_epi32(int(stride_))),
        iota(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)) {}
  template <typename D>
  __m256i at(const D* s, uint32_t j0) const {
    const __m256i row = _mm256_and_si256(_mm256_min_epu32(_mm256_add_epi32(load8(s + j0), n1), end), mask);
    return _mm256_add_epi32(_mm256_mullo_epi32(row, stride), _mm256_add_epi32(_mm256_set1_epi32(int(j0)), iota));
  }
};

template <typename D>
inline size_t cell(const D* s, uint32_t j, int32_t n, uint32_t mask, uint32_t end, uint32_t stride) {
  return size_t(arrival_row(uint32_t(n) + 1 + uint32_t(s[j]), mask, end)) * stride + j;
}

template <typename Real, typename D>
inline void gather_tail(const Real* hist, const Real* w, const D* s, uint32_t j, uint32_t N, int32_t n,
                        uint32_t mask, uint32_t rows, uint32_t end, Real tau_s, Real* gw, Real* gd, Real* lanes) {
  for (; j < N; ++j) {
    const size_t at = hist_cell(hist_row(uint32_t(n) + 1 + uint32_t(s[j]), mask, rows, end), j, rows) * 2;
    const Real lv = hist[at], li = hist[at + 1];
    lanes[j % kLanes] += w[j] * (lv - li);
    gw[j] -= tau_s * li;
    gd[j] -= w[j] * (li - lv);
  }
}

// History cells hist_cell(hist_row(n + 1 + s[j], mask, rows, end), j, rows) of synapses j0
// .. j0 + 7, j0 a multiple of 8 (the caller keeps the history's cells below 2^31).
struct HistCells {
  __m256i n1, mask, last, end, iota;
  uint32_t block;  // cells per neuron block
  HistCells(int32_t n, uint32_t m, uint32_t rows, uint32_t e)
      : n1(_mm256_set1_epi32(int(uint32_t(n) + 1))),
        mask(_mm256_set1_epi32(int(m))),
        last(_mm256_set1_epi32(int(rows - 1))),
        end(_mm256_set1_epi32(int(e))),
        iota(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)),
        block(rows * kXWidth) {}
  template <typename D>
  __m256i at(const D* s, uint32_t j0) const {
    const __m256i a = _mm256_add_epi32(load8(s + j0), n1);  // below 2^31, as end
    const __m256i row = _mm256_blendv_epi8(last, _mm256_and_si256(a, mask), _mm256_cmpgt_epi32(end, a));
    const int base = int(j0 / kXWidth * block + j0 % kXWidth);
    return _mm256_add_epi32(_mm256_slli_epi32(row, 4), _mm256_add_epi32(_mm256_set1_epi32(base), iota));
  }
};

template <typename Real, typename D>
void scatter_v(Real* ring, const Real* w, const D* s, uint32_t N, uint32_t stride, int32_t n, uint32_t mask,
               uint32_t end) {
  const Cells cells(n, mask, end, stride);
  alignas(32) int32_t c[8];
  uint32_t j = 0;
  for (; j + 8 <= N; j += 8) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(c), cells.at(s, j));
    for (int k = 0; k < 8; ++k) ring[c[k]] += w[j + k];
  }
  for (; j < N; ++j) ring[cell(s, j, n, mask, end, stride)] += w[j];
}

// See SynapseKernels::scatter_inputs. AVX2 has no scatter: the cells are added one by one,
// neuron block by neuron block (the block's rows stay in cache).
template <typename Real, typename D>
void scatter_inputs_v(Real* x, const Real* w, const D* s, const uint32_t* rows, const int32_t* steps, uint32_t K,
                      uint32_t N, uint32_t mask, uint32_t end) {
  const size_t block = size_t(mask + 1) * kXWidth;
  for (uint32_t j0 = 0; j0 < N; j0 += kXWidth) {
    Real* xb = x + size_t(j0 / kXWidth) * block;
    const uint32_t width = N - j0 < kXWidth ? N - j0 : kXWidth;
    for (uint32_t k = 0; k < K; ++k) {
      const uint32_t n1 = uint32_t(steps[k]) + 1;
      const D* sk = s + size_t(rows[k]) * N + j0;
      const Real* wk = w + size_t(rows[k]) * N + j0;
      if (before_end<D>(n1, end)) {
        for (uint32_t l = 0; l < width; ++l) xb[size_t((n1 + uint32_t(sk[l])) & mask) * kXWidth + l] += wk[l];
      } else {
        for (uint32_t l = 0; l < width; ++l)
          xb[size_t(arrival_row(n1 + uint32_t(sk[l]), mask, end)) * kXWidth + l] += wk[l];
      }
    }
  }
}

// Gathers with every lane on (the plain intrinsics leave their pass-through operand undefined,
// which GCC 12 warns about).
inline __m256i gather_pairs(const long long* base, __m128i at) {
  return _mm256_mask_i32gather_epi64(_mm256_setzero_si256(), base, at, _mm256_set1_epi64x(-1), 8);
}
inline __m256d gather_f64(const double* base, __m128i at) {
  return _mm256_mask_i32gather_pd(_mm256_setzero_pd(), base, at, _mm256_castsi256_pd(_mm256_set1_epi64x(-1)), 8);
}

inline void sub8(float* g, __m256 x) { _mm256_storeu_ps(g, _mm256_sub_ps(_mm256_loadu_ps(g), x)); }

// lambda_V and lambda_I of the 8 float cells c (pairs: (lambda_V, lambda_I) per cell).
inline void pairs8(const long long* pairs, __m256i c, __m256& lv, __m256& li) {
  const __m256 p0 = _mm256_castsi256_ps(gather_pairs(pairs, _mm256_castsi256_si128(c)));
  const __m256 p1 = _mm256_castsi256_ps(gather_pairs(pairs, _mm256_extracti128_si256(c, 1)));
  // p0 = l0 i0 l1 i1 | l2 i2 l3 i3, p1 = l4 i4 l5 i5 | l6 i6 l7 i7
  const __m256 lvs = _mm256_shuffle_ps(p0, p1, _MM_SHUFFLE(2, 0, 2, 0));  // l0 l1 l4 l5 | l2 l3 l6 l7
  const __m256 lis = _mm256_shuffle_ps(p0, p1, _MM_SHUFFLE(3, 1, 3, 1));
  lv = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(lvs), _MM_SHUFFLE(3, 1, 2, 0)));
  li = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(lis), _MM_SHUFFLE(3, 1, 2, 0)));
}

template <typename D>
void gather_v(const float* hist, const float* w, const D* s, uint32_t N, int32_t n, uint32_t mask, uint32_t rows,
              uint32_t end, float tau_s, float* gw, float* gd, float* lanes) {
  const HistCells cells(n, mask, rows, end);
  const __m256 ts = _mm256_set1_ps(tau_s);
  const long long* pairs = reinterpret_cast<const long long*>(hist);  // (lambda_V, lambda_I) per cell
  __m256 acc[2] = {_mm256_loadu_ps(lanes), _mm256_loadu_ps(lanes + 8)};
  uint32_t j = 0;
  for (; j + 16 <= N; j += 16) {
    for (int h = 0; h < 2; ++h) {
      const uint32_t jh = j + 8 * h;
      const __m256i c = cells.at(s, jh);
      __m256 lv, li;
      pairs8(pairs, c, lv, li);
      const __m256 wv = _mm256_loadu_ps(w + jh);
      acc[h] = _mm256_add_ps(acc[h], _mm256_mul_ps(wv, _mm256_sub_ps(lv, li)));
      sub8(gw + jh, _mm256_mul_ps(ts, li));
      sub8(gd + jh, _mm256_mul_ps(wv, _mm256_sub_ps(li, lv)));
    }
  }
  _mm256_storeu_ps(lanes, acc[0]);
  _mm256_storeu_ps(lanes + 8, acc[1]);
  gather_tail(hist, w, s, j, N, n, mask, rows, end, tau_s, gw, gd, lanes);
}

template <typename D>
void gather_v(const double* hist, const double* w, const D* s, uint32_t N, int32_t n, uint32_t mask, uint32_t rows,
              uint32_t end, double tau_s, double* gw, double* gd, double* lanes) {
  const HistCells cells(n, mask, rows, end);
  const __m256d ts = _mm256_set1_pd(tau_s);
  __m256d acc[4];
  for (int q = 0; q < 4; ++q) acc[q] = _mm256_loadu_pd(lanes + 4 * q);
  uint32_t j = 0;
  for (; j + 16 <= N; j += 16) {
    for (int h = 0; h < 2; ++h) {
      const __m256i c2 = _mm256_slli_epi32(cells.at(s, j + 8 * h), 1);  // index of lambda_V in hist
      for (int q = 0; q < 2; ++q) {
        const __m128i at = q ? _mm256_extracti128_si256(c2, 1) : _mm256_castsi256_si128(c2);
        const __m256d lv = gather_f64(hist, at);
        const __m256d li = gather_f64(hist + 1, at);
        const uint32_t jq = j + 8 * h + 4 * q;
        const __m256d wv = _mm256_loadu_pd(w + jq);
        acc[2 * h + q] = _mm256_add_pd(acc[2 * h + q], _mm256_mul_pd(wv, _mm256_sub_pd(lv, li)));
        _mm256_storeu_pd(gw + jq, _mm256_sub_pd(_mm256_loadu_pd(gw + jq), _mm256_mul_pd(ts, li)));
        _mm256_storeu_pd(gd + jq, _mm256_sub_pd(_mm256_loadu_pd(gd + jq), _mm256_mul_pd(wv, _mm256_sub_pd(li, lv))));
      }
    }
  }
  for (int q = 0; q < 4; ++q) _mm256_storeu_pd(lanes + 4 * q, acc[q]);
  gather_tail(hist, w, s, j, N, n, mask, rows, end, tau_s, gw, gd, lanes);
}

// See SynapseKernels::gradients: the rows cleared, then neuron block by neuron block, spikes
// in reverse order, 8 synapses at a time; a block narrower than 16 one synapse at a time.
template <typename Real, typename D>
inline void gradients_lane(const Real* hist, const Real* w, const D* s, size_t at, uint32_t j, int32_t step,
                           uint32_t rows, Real tau_s, Real* gw, Real* gd) {
  const size_t c = hist_cell(hist_row(uint32_t(step) + 1 + uint32_t(s[at]), ~0u, rows, rows - 1), j, rows) * 2;
  const Real lv = hist[c], li = hist[c + 1];
  gw[at] -= tau_s * li;
  gd[at] -= w[at] * (li - lv);
}

template <typename D>
void gradients_v(const float* hist, const float* w, const D* s, uint32_t N, uint32_t n_pre, const uint32_t* pre,
                 const int32_t* steps, uint32_t K, uint32_t rows, float tau_s, float* gw, float* gd,
                 float* /*scratch: not used*/) {
  std::fill_n(gw, size_t(n_pre) * N, float(0));
  std::fill_n(gd, size_t(n_pre) * N, float(0));
  const __m256 ts = _mm256_set1_ps(tau_s);
  const __m256i last = _mm256_set1_epi32(int(rows - 1));  // hist_row of a history of every step
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (uint32_t j0 = 0; j0 < N; j0 += kXWidth) {
    const uint32_t width = N - j0 < kXWidth ? N - j0 : kXWidth;
    const long long* pairs = reinterpret_cast<const long long*>(hist) + size_t(j0 / kXWidth) * rows * kXWidth;
    for (uint32_t k = K; k-- > 0;) {
      const size_t at = size_t(pre[k]) * N + j0;
      if (width < kXWidth) {
        for (uint32_t l = 0; l < width; ++l) gradients_lane(hist, w, s, at + l, j0 + l, steps[k], rows, tau_s, gw, gd);
        continue;
      }
      const __m256i n1 = _mm256_set1_epi32(int(uint32_t(steps[k]) + 1));
      for (uint32_t h = 0; h < 16; h += 8) {
        const __m256i row = _mm256_min_epu32(_mm256_add_epi32(load8(s + at + h), n1), last);
        const __m256i c =
            _mm256_add_epi32(_mm256_slli_epi32(row, 4), _mm256_add_epi32(_mm256_set1_epi32(int(h)), iota));
        __m256 lv, li;
        pairs8(pairs, c, lv, li);
        const __m256 wv = _mm256_loadu_ps(w + at + h);
        sub8(gw + at + h, _mm256_mul_ps(ts, li));
        sub8(gd + at + h, _mm256_mul_ps(wv, _mm256_sub_ps(li, lv)));
      }
    }
  }
}

template <typename D>
void gradients_v(const double* hist, const double* w, const D* s, uint32_t N, uint32_t n_pre, const uint32_t* pre,
                 const int32_t* steps, uint32_t K, uint32_t rows, double tau_s, double* gw, double* gd,
                 double* /*scratch: not used*/) {
  std::fill_n(gw, size_t(n_pre) * N, double(0));
  std::fill_n(gd, size_t(n_pre) * N, double(0));
  const __m256d ts = _mm256_set1_pd(tau_s);
  const __m256i last = _mm256_set1_epi32(int(rows - 1));  // hist_row of a history of every step
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (uint32_t j0 = 0; j0 < N; j0 += kXWidth) {
    const uint32_t width = N - j0 < kXWidth ? N - j0 : kXWidth;
    const double* hb = hist + size_t(j0 / kXWidth) * rows * kXWidth * 2;
    for (uint32_t k = K; k-- > 0;) {
      const size_t at = size_t(pre[k]) * N + j0;
      if (width < kXWidth) {
        for (uint32_t l = 0; l < width; ++l) gradients_lane(hist, w, s, at + l, j0 + l, steps[k], rows, tau_s, gw, gd);
        continue;
      }
      const __m256i n1 = _mm256_set1_epi32(int(uint32_t(steps[k]) + 1));
      for (uint32_t h = 0; h < 16; h += 8) {
        const __m256i row = _mm256_min_epu32(_mm256_add_epi32(load8(s + at + h), n1), last);
        const __m256i c2 = _mm256_slli_epi32(
            _mm256_add_epi32(_mm256_slli_epi32(row, 4), _mm256_add_epi32(_mm256_set1_epi32(int(h)), iota)), 1);
        for (uint32_t q = 0; q < 8; q += 4) {
          const __m128i cq = q ? _mm256_extracti128_si256(c2, 1) : _mm256_castsi256_si128(c2);
          const __m256d lv = gather_f64(hb, cq), li = gather_f64(hb + 1, cq);
          const size_t jq = at + h + q;
          _mm256_storeu_pd(gw + jq, _mm256_sub_pd(_mm256_loadu_pd(gw + jq), _mm256_mul_pd(ts, li)));
          const __m256d wv = _mm256_loadu_pd(w + jq);
          _mm256_storeu_pd(gd + jq, _mm256_sub_pd(_mm256_loadu_pd(gd + jq), _mm256_mul_pd(wv, _mm256_sub_pd(li, lv))));
        }
      }
    }
  }
}

// See NeuronFn: neuron_step's and lif_step's operations spelled out, a register of neurons at
// a time ((1 - alpha) c is one constant, as lif_step's left-to-right product computes it
// first); lanes at and past `width` are neither read nor written. Returns the mask of the
// lanes at threshold.
inline uint32_t neuron_reg(const StepConstants<float>& k, float* v, float* i, float* cell, float* x, float* i0,
                           uint32_t width) {
  const __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(width)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  __m256 A = _mm256_maskload_ps(cell, m);
  _mm256_maskstore_ps(cell, m, _mm256_setzero_ps());
  if (x) {
    A = _mm256_add_ps(_mm256_maskload_ps(x, m), A);
    _mm256_maskstore_ps(x, m, _mm256_setzero_ps());
  }
  const __m256 I0 = _mm256_add_ps(_mm256_maskload_ps(i, m), A);
  const __m256 V = _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(k.alpha), _mm256_maskload_ps(v, m)),
                                 _mm256_mul_ps(_mm256_set1_ps((1.0f - k.alpha) * k.c), I0));
  _mm256_maskstore_ps(i0, m, I0);
  _mm256_maskstore_ps(v, m, V);
  _mm256_maskstore_ps(i, m, _mm256_mul_ps(_mm256_set1_ps(k.beta), I0));
  return uint32_t(_mm256_movemask_ps(_mm256_and_ps(_mm256_cmp_ps(V, _mm256_set1_ps(k.theta), _CMP_GE_OQ),
                                                   _mm256_castsi256_ps(m))));
}

inline uint32_t neuron_reg(const StepConstants<double>& k, double* v, double* i, double* cell, double* x, double* i0,
                           uint32_t width) {
  const __m256i m = _mm256_cmpgt_epi64(_mm256_set1_epi64x(int64_t(width)), _mm256_setr_epi64x(0, 1, 2, 3));
  __m256d A = _mm256_maskload_pd(cell, m);
  _mm256_maskstore_pd(cell, m, _mm256_setzero_pd());
  if (x) {
    A = _mm256_add_pd(_mm256_maskload_pd(x, m), A);
    _mm256_maskstore_pd(x, m, _mm256_setzero_pd());
  }
  const __m256d I0 = _mm256_add_pd(_mm256_maskload_pd(i, m), A);
  const __m256d V = _mm256_add_pd(_mm256_mul_pd(_mm256_set1_pd(k.alpha), _mm256_maskload_pd(v, m)),
                                  _mm256_mul_pd(_mm256_set1_pd((1.0 - k.alpha) * k.c), I0));
  _mm256_maskstore_pd(i0, m, I0);
  _mm256_maskstore_pd(v, m, V);
  _mm256_maskstore_pd(i, m, _mm256_mul_pd(_mm256_set1_pd(k.beta), I0));
  return uint32_t(_mm256_movemask_pd(_mm256_and_pd(_mm256_cmp_pd(V, _mm256_set1_pd(k.theta), _CMP_GE_OQ),
                                                   _mm256_castsi256_pd(m))));
}

template <typename Real>
uint32_t neuron_v(const StepConstants<Real>& k, Real* v, Real* i, Real* cell, Real* x, size_t xstride, Real* i0,
                  uint32_t N, uint32_t* spiked) {
  constexpr uint32_t kReg = 32 / sizeof(Real);  // neurons per register
  uint32_t n = 0;
  for (uint32_t j0 = 0; j0 < N; j0 += kXWidth) {
    Real* xb = x ? x + size_t(j0 / kXWidth) * xstride : nullptr;
    for (uint32_t r = 0; r < kXWidth && j0 + r < N; r += kReg) {
      const uint32_t j = j0 + r;
      const uint32_t width = N - j < kReg ? N - j : kReg;
      uint32_t fire = neuron_reg(k, v + j, i + j, cell + j, xb ? xb + r : nullptr, i0 + j, width);
      if (spiked)
        for (; fire; fire &= fire - 1) spiked[n++] = j + uint32_t(__builtin_ctz(fire));
    }
  }
  return n;
}

// See FoldFn and fold_float_parameter: 8 float32 parameters at a time, the test of their
// exponents and their double sums in registers (each lane summed in sample order, as the
// scalar loop does); then each parameter's sum, or where the sum is not exact its values one
// by one, added to its digits by exact_add: the same integers as the scalar fold.
bool fold_v(const float* g, uint32_t n_samples, size_t stride, size_t P, int64_t* digits) {
  if (n_samples > kPresumTerms) return fold_sample_gradients(g, n_samples, stride, P, digits);
  bool ok = true;
  size_t i = 0;
  const __m256i expo = _mm256_set1_epi32(0xff), magnitude = _mm256_set1_epi32(0x7fffffff);
  for (; i + 8 <= P; i += 8) {
    __m256i lo = _mm256_set1_epi32(255), hi = _mm256_setzero_si256(), any = _mm256_setzero_si256();
    __m256d sum0 = _mm256_setzero_pd(), sum1 = _mm256_setzero_pd();
    for (uint32_t s = 0; s < n_samples; ++s) {
      const __m256 v = _mm256_loadu_ps(g + size_t(s) * stride + i);
      const __m256i bits = _mm256_castps_si256(v);
      const __m256i e = _mm256_and_si256(_mm256_srli_epi32(bits, 23), expo);
      const __m256i zero = _mm256_cmpeq_epi32(_mm256_and_si256(bits, magnitude), _mm256_setzero_si256());
      any = _mm256_or_si256(any, _mm256_andnot_si256(zero, _mm256_set1_epi32(-1)));
      lo = _mm256_min_epu32(lo, _mm256_or_si256(e, _mm256_and_si256(zero, expo)));  // zeros: 255
      hi = _mm256_max_epu32(hi, _mm256_andnot_si256(zero, e));                       // zeros: 0
      sum0 = _mm256_add_pd(sum0, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
      sum1 = _mm256_add_pd(sum1, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
    }
    alignas(32) uint32_t l[8], h[8], a[8];
    alignas(32) double sums[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(l), lo);
    _mm256_store_si256(reinterpret_cast<__m256i*>(h), hi);
    _mm256_store_si256(reinterpret_cast<__m256i*>(a), any);
    _mm256_store_pd(sums, sum0);
    _mm256_store_pd(sums + 4, sum1);
    for (uint32_t q = 0; q < 8; ++q) {
      if (!a[q]) continue;
      int64_t* d = digits + (i + q) * ExactSum::kDigits;
      if (l[q] >= kPresumMinExp && h[q] <= kPresumMaxExp && h[q] - l[q] <= kPresumSpread) {
        ok &= exact_add(d, sums[q]);
      } else {
        for (uint32_t s2 = 0; s2 < n_samples; ++s2)
          if (const float v = g[size_t(s2) * stride + i + q]; v != 0.0f) ok &= exact_add(d, double(v));
      }
    }
  }
  for (; i < P; ++i) ok &= fold_float_parameter(g + i, stride, n_samples, digits + i * ExactSum::kDigits);
  return ok;
}

}  // namespace

template <typename Real>
FoldFn<Real> avx2_fold() {
  if constexpr (sizeof(Real) == 4) return &fold_v;
  else return static_cast<FoldFn<Real>>(&fold_sample_gradients);
}
template FoldFn<float> avx2_fold<float>();
template FoldFn<double> avx2_fold<double>();

template <typename Real>
NeuronFn<Real> avx2_neuron() {
  return &neuron_v<Real>;
}
template NeuronFn<float> avx2_neuron<float>();
template NeuronFn<double> avx2_neuron<double>();

template <typename Real, typename D>
SynapseKernels<Real, D> avx2_kernels() {
  return {&scatter_v<Real, D>, &gather_v<D>, &gradients_v<D>, &scatter_inputs_v<Real, D>};
}
template SynapseKernels<float, uint8_t> avx2_kernels<float, uint8_t>();
template SynapseKernels<float, uint16_t> avx2_kernels<float, uint16_t>();
template SynapseKernels<float, int32_t> avx2_kernels<float, int32_t>();
template SynapseKernels<double, uint8_t> avx2_kernels<double, uint8_t>();
template SynapseKernels<double, uint16_t> avx2_kernels<double, uint16_t>();
template SynapseKernels<double, int32_t> avx2_kernels<double, int32_t>();

}  // namespace delayprop::cpu

#pragma GCC pop_options
#else
namespace delayprop::cpu {
template <typename Real>
FoldFn<Real> avx2_fold() {
  return fold_for<Real>(Isa::Scalar);
}
template FoldFn<float> avx2_fold<float>();
template FoldFn<double> avx2_fold<double>();
template <typename Real>
NeuronFn<Real> avx2_neuron() {
  return neuron_for<Real>(Isa::Scalar);
}
template NeuronFn<float> avx2_neuron<float>();
template NeuronFn<double> avx2_neuron<double>();
template <typename Real, typename D>
SynapseKernels<Real, D> avx2_kernels() {
  return scalar_kernels<Real, D>();
}
template SynapseKernels<float, uint8_t> avx2_kernels<float, uint8_t>();
template SynapseKernels<float, uint16_t> avx2_kernels<float, uint16_t>();
template SynapseKernels<float, int32_t> avx2_kernels<float, int32_t>();
template SynapseKernels<double, uint8_t> avx2_kernels<double, uint8_t>();
template SynapseKernels<double, uint16_t> avx2_kernels<double, uint16_t>();
template SynapseKernels<double, int32_t> avx2_kernels<double, int32_t>();
}  // namespace delayprop::cpu
#endif
