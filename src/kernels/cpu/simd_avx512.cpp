// The AVX-512 synapse kernels (F, BW, VL, DQ, CD): 16 synapses per step, the lanes of R's canonical
// order held in one register (float) or two (double). See kernels/cpu/simd.hpp. Only called on
// a CPU that has AVX-512; everything in this file is compiled for it and has internal linkage,
// so no AVX-512 code can be picked up by the rest of the program.
// GCC 12's intrinsics headers trip -Wmaybe-uninitialized and -Wuninitialized on their own
// "undefined" operands.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "core/exact_sum.hpp"
#include "kernels/common.hpp"
#include "kernels/cpu/simd.hpp"

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2,avx512f,avx512bw,avx512vl,avx512dq,avx512cd")

namespace delayprop::cpu {
namespace {

inline __m512i load16(const uint8_t* s) {
  return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(s)));
}
inline __m512i load16(const uint16_t* s) {
  return _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s)));
}
inline __m512i load16(const int32_t* s) { return _mm512_loadu_si512(s); }
// Delays of lanes l < width of a block (the others 0).
inline __m512i load16_masked(const uint8_t* s, __mmask16 m) { return _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, s)); }
inline __m512i load16_masked(const uint16_t* s, __mmask16 m) {
  return _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, s));
}
inline __m512i load16_masked(const int32_t* s, __mmask16 m) { return _mm512_maskz_loadu_epi32(m, s); }
// The ring cell of synapse j, for the synapses past the last full block of 16 (the scatter
// adds them one by one: a masked scatter of the few left made the forward 2 % slower).
template <typename D>
inline size_t cell(const D* s, uint32_t j, int32_t n, uint32_t mask, uint32_t end, uint32_t stride) {
  return size_t(arrival_row(uint32_t(n) + 1 + uint32_t(s[j]), mask, end)) * stride + j;
}

// The lanes of the last, partial block of 16 synapses from j on (N - j < 16).
inline __mmask16 tail_mask(uint32_t j, uint32_t N) { return __mmask16((1u << (N - j)) - 1); }

// Cell indices arrival_row(n + 1 + s[j], mask, end) * stride + j of synapses j0 .. j0 + 15, their
// delays sv (the caller keeps ring slots x stride below 2^31).
struct Cells {
  __m512i n1, mask, end, stride, iota;
  Cells(int32_t n, uint32_t m, uint32_t e, uint32_t stride_)
      : n1(_mm512_set1_epi32(int(uint32_t(n) + 1))),
        mask(_mm512_set1_epi32(int(m))),
        end(_mm512_set1_epi32(int(e))),
        stride(_mm512_set1_epi32(int(stride_))),
        iota(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)) {}
  __m512i at(__m512i sv, uint32_t j0) const {
    const __m512i row = _mm512_and_si512(_mm512_min_epu32(_mm512_add_epi32(sv, n1), end), mask);
    return _mm512_add_epi32(_mm512_mullo_epi32(row, stride), _mm512_add_epi32(_mm512_set1_epi32(int(j0)), iota));
  }
};

// History cells hist_cell(hist_row(n + 1 + s[j], mask, rows, end), j, rows) of synapses j0
// .. j0 + 15, j0 a multiple of 16, their delays sv (the caller keeps the history's cells below
// 2^31).
struct HistCells {
  __m512i n1, mask, last, end, iota;
  uint32_t block;  // cells per neuron block
  HistCells(int32_t n, uint32_t m, uint32_t rows, uint32_t e)
      : n1(_mm512_set1_epi32(int(uint32_t(n) + 1))),
        mask(_mm512_set1_epi32(int(m))),
        last(_mm512_set1_epi32(int(rows - 1))),
        end(_mm512_set1_epi32(int(e))),
        iota(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)),
        block(rows * kXWidth) {}
  __m512i at(__m512i sv, uint32_t j0) const {
    const __m512i a = _mm512_add_epi32(sv, n1);
    const __m512i row = _mm512_mask_blend_epi32(_mm512_cmplt_epu32_mask(a, end), last, _mm512_and_si512(a, mask));
    const __m512i base = _mm512_set1_epi32(int(j0 / kXWidth * block));
    return _mm512_add_epi32(_mm512_slli_epi32(row, 4), _mm512_add_epi32(base, iota));
  }
};

template <typename D>
void scatter_v(float* ring, const float* w, const D* s, uint32_t N, uint32_t stride, int32_t n, uint32_t mask,
               uint32_t end) {
  const Cells cells(n, mask, end, stride);
  uint32_t j = 0;
  // Two blocks at a time, both gathers before the scatters (a gather after a scatter started
  // later: forward 2 % faster; four at a time were slower). 16 different columns per block:
  // no two lanes share a cell.
  for (; j + 32 <= N; j += 32) {
    const __m512i c0 = cells.at(load16(s + j), j), c1 = cells.at(load16(s + j + 16), j + 16);
    const __m512 g0 = _mm512_i32gather_ps(c0, ring, 4), g1 = _mm512_i32gather_ps(c1, ring, 4);
    _mm512_i32scatter_ps(ring, c0, _mm512_add_ps(g0, _mm512_loadu_ps(w + j)), 4);
    _mm512_i32scatter_ps(ring, c1, _mm512_add_ps(g1, _mm512_loadu_ps(w + j + 16)), 4);
  }
  if (j + 16 <= N) {
    const __m512i c = cells.at(load16(s + j), j);
    _mm512_i32scatter_ps(ring, c, _mm512_add_ps(_mm512_i32gather_ps(c, ring, 4), _mm512_loadu_ps(w + j)), 4);
    j += 16;
  }
  for (; j < N; ++j) ring[cell(s, j, n, mask, end, stride)] += w[j];
}

template <typename D>
void scatter_v(double* ring, const double* w, const D* s, uint32_t N, uint32_t stride, int32_t n, uint32_t mask,
               uint32_t end) {
  const Cells cells(n, mask, end, stride);
  uint32_t j = 0;
  for (; j + 16 <= N; j += 16) {
    const __m512i c = cells.at(load16(s + j), j);
    const __m256i c0 = _mm512_castsi512_si256(c), c1 = _mm512_extracti64x4_epi64(c, 1);
    const __m512d v0 = _mm512_add_pd(_mm512_i32gather_pd(c0, ring, 8), _mm512_loadu_pd(w + j));
    const __m512d v1 = _mm512_add_pd(_mm512_i32gather_pd(c1, ring, 8), _mm512_loadu_pd(w + j + 8));
    _mm512_i32scatter_pd(ring, c0, v0, 8);
    _mm512_i32scatter_pd(ring, c1, v1, 8);
  }
  for (; j < N; ++j) ring[cell(s, j, n, mask, end, stride)] += w[j];
}

// See SynapseKernels::scatter_inputs. Within a neuron block the cells of one spike are in 16
// different columns (no two lanes share a cell). A spike is added to up to kXGroup blocks in
// turn before the next spike, as many as have their rows in kXGroupBytes (in L1): the next
// spike's gather in a block then rarely waits for the previous scatter's stores to the same
// cells (18 % faster than block by block at 128 slots; at 2048 slots a block alone is
// 128 KiB, and four blocks at a time were 40 % slower). Each cell still gets its additions
// in spike order. The next spikes' rows are prefetched, their addresses being known ahead.
constexpr uint32_t kAhead = 4;
constexpr uint32_t kXGroup = 4;
constexpr size_t kXGroupBytes = 32 << 10;

// Spike row (w, s) added to one block xb (lanes in m); n1 = the spike's step + 1.
template <typename D>
inline void add_spike_block(float* xb, const float* w, const D* s, __m512i n1, __m512i vmask, __m512i vend,
                            __m512i iota, __mmask16 m) {
  const __m512i row = _mm512_and_si512(_mm512_min_epu32(_mm512_add_epi32(load16_masked(s, m), n1), vend), vmask);
  const __m512i c = _mm512_add_epi32(_mm512_slli_epi32(row, 4), iota);
  const __m512 v =
      _mm512_add_ps(_mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, c, xb, 4), _mm512_maskz_loadu_ps(m, w));
  _mm512_mask_i32scatter_ps(xb, m, c, v, 4);
}

template <typename D>
inline void add_spike_block(double* xb, const double* w, const D* s, __m512i n1, __m512i vmask, __m512i vend,
                            __m512i iota, __mmask16 m) {
  const __m512i row = _mm512_and_si512(_mm512_min_epu32(_mm512_add_epi32(load16_masked(s, m), n1), vend), vmask);
  const __m512i c = _mm512_add_epi32(_mm512_slli_epi32(row, 4), iota);
  const __mmask8 m0 = __mmask8(m), m1 = __mmask8(m >> 8);
  const __m256i c0 = _mm512_castsi512_si256(c), c1 = _mm512_extracti64x4_epi64(c, 1);
  const __m512d v0 =
      _mm512_add_pd(_mm512_mask_i32gather_pd(_mm512_setzero_pd(), m0, c0, xb, 8), _mm512_maskz_loadu_pd(m0, w));
  const __m512d v1 =
      _mm512_add_pd(_mm512_mask_i32gather_pd(_mm512_setzero_pd(), m1, c1, xb, 8), _mm512_maskz_loadu_pd(m1, w + 8));
  _mm512_mask_i32scatter_pd(xb, m0, c0, v0, 8);
  _mm512_mask_i32scatter_pd(xb, m1, c1, v1, 8);
}

// The same for a whole block (every lane).
template <typename D>
inline void add_spike_block(float* xb, const float* w, const D* s, __m512i n1, __m512i vmask, __m512i vend,
                            __m512i iota) {
  const __m512i row = _mm512_and_si512(_mm512_min_epu32(_mm512_add_epi32(load16(s), n1), vend), vmask);
  const __m512i c = _mm512_add_epi32(_mm512_slli_epi32(row, 4), iota);
  _mm512_i32scatter_ps(xb, c, _mm512_add_ps(_mm512_i32gather_ps(c, xb, 4), _mm512_loadu_ps(w)), 4);
}
template <typename D>
inline void add_spike_block(double* xb, const double* w, const D* s, __m512i n1, __m512i vmask, __m512i vend,
                            __m512i iota) {
  add_spike_block(xb, w, s, n1, vmask, vend, iota, __mmask16(0xffff));
}

template <typename Real, typename D>
void scatter_inputs_v(Real* x, const Real* w, const D* s, const uint32_t* rows, const int32_t* steps, uint32_t K,
                      uint32_t N, uint32_t mask, uint32_t end) {
  static_assert(kXWidth == 16);
  const size_t block = size_t(mask + 1) * kXWidth;
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i vmask = _mm512_set1_epi32(int(mask)), vend = _mm512_set1_epi32(int(end));
  const uint32_t n_blocks = (N + kXWidth - 1) / kXWidth;
  const size_t fit = kXGroupBytes / (block * sizeof(Real));
  const uint32_t group = fit >= kXGroup ? kXGroup : fit < 1 ? 1 : uint32_t(fit);
  for (uint32_t b0 = 0; b0 < n_blocks; b0 += group) {
    const uint32_t nb = n_blocks - b0 < group ? n_blocks - b0 : group;
    const uint32_t j0 = b0 * kXWidth;
    __mmask16 m[kXGroup];
    for (uint32_t g = 0; g < nb; ++g) {
      const uint32_t width = N - j0 - g * kXWidth < kXWidth ? N - j0 - g * kXWidth : kXWidth;
      m[g] = width == 16 ? __mmask16(0xffff) : __mmask16((1u << width) - 1);
    }
    Real* xg = x + size_t(b0) * block;
    const bool full = nb == kXGroup && j0 + kXGroup * kXWidth <= N;
    for (uint32_t k = 0; k < K; ++k) {
      if (k + kAhead < K) {
        const size_t ahead = size_t(rows[k + kAhead]) * N + j0;
        for (uint32_t g = 0; g < nb; ++g) {
          const size_t at = ahead + g * kXWidth;
          _mm_prefetch(reinterpret_cast<const char*>(w + at), _MM_HINT_T0);
          if constexpr (sizeof(Real) == 8) _mm_prefetch(reinterpret_cast<const char*>(w + at + 8), _MM_HINT_T0);
          _mm_prefetch(reinterpret_cast<const char*>(s + at), _MM_HINT_T0);
        }
      }
      const size_t at = size_t(rows[k]) * N + j0;
      const __m512i n1 = _mm512_set1_epi32(int(uint32_t(steps[k]) + 1));
      if (full) {
        for (uint32_t g = 0; g < kXGroup; ++g)
          add_spike_block(xg + g * block, w + at + g * kXWidth, s + at + g * kXWidth, n1, vmask, vend, iota);
      } else {
        for (uint32_t g = 0; g < nb; ++g)
          add_spike_block(xg + g * block, w + at + g * kXWidth, s + at + g * kXWidth, n1, vmask, vend, iota, m[g]);
      }
    }
  }
}

inline void sub16(float* g, __m512 x) { _mm512_storeu_ps(g, _mm512_sub_ps(_mm512_loadu_ps(g), x)); }

template <typename D>
void gather_v(const float* hist, const float* w, const D* s, uint32_t N, int32_t n, uint32_t mask, uint32_t rows,
              uint32_t end, float tau_s, float* gw, float* gd, float* lanes) {
  const HistCells cells(n, mask, rows, end);
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const __m512 ts = _mm512_set1_ps(tau_s);
  const long long* pairs = reinterpret_cast<const long long*>(hist);  // (lambda_V, lambda_I) per cell
  __m512 acc = _mm512_loadu_ps(lanes);
  uint32_t j = 0;
  for (; j + 16 <= N; j += 16) {
    const __m512i c = cells.at(load16(s + j), j);
    const __m512 lo = _mm512_castsi512_ps(_mm512_i32gather_epi64(_mm512_castsi512_si256(c), pairs, 8));
    const __m512 hi = _mm512_castsi512_ps(_mm512_i32gather_epi64(_mm512_extracti64x4_epi64(c, 1), pairs, 8));
    const __m512 lv = _mm512_permutex2var_ps(lo, even, hi);
    const __m512 li = _mm512_permutex2var_ps(lo, odd, hi);
    const __m512 wv = _mm512_loadu_ps(w + j);
    acc = _mm512_add_ps(acc, _mm512_mul_ps(wv, _mm512_sub_ps(lv, li)));
    sub16(gw + j, _mm512_mul_ps(ts, li));
    sub16(gd + j, _mm512_mul_ps(wv, _mm512_sub_ps(li, lv)));
  }
  if (j < N) {  // the same operations in lanes l < N - j
    const __mmask16 m = tail_mask(j, N);
    const __m512i c = cells.at(load16_masked(s + j, m), j);
    // A gather costs by its width, not by its lanes: no wider than the lanes left.
    const __m512i z = _mm512_setzero_si512();
    const __m256i c0 = _mm512_castsi512_si256(c), c1 = _mm512_extracti64x4_epi64(c, 1);
    __m512 lo, hi = _mm512_setzero_ps();
    if (N - j <= 4)
      lo = _mm512_castsi512_ps(_mm512_zextsi256_si512(
          _mm256_mmask_i32gather_epi64(_mm256_setzero_si256(), __mmask8(m), _mm256_castsi256_si128(c0), pairs, 8)));
    else
      lo = _mm512_castsi512_ps(_mm512_mask_i32gather_epi64(z, __mmask8(m), c0, pairs, 8));
    if (N - j > 8) hi = _mm512_castsi512_ps(_mm512_mask_i32gather_epi64(z, __mmask8(m >> 8), c1, pairs, 8));
    const __m512 lv = _mm512_permutex2var_ps(lo, even, hi);
    const __m512 li = _mm512_permutex2var_ps(lo, odd, hi);
    const __m512 wv = _mm512_maskz_loadu_ps(m, w + j);
    acc = _mm512_mask_add_ps(acc, m, acc, _mm512_mul_ps(wv, _mm512_sub_ps(lv, li)));
    _mm512_mask_storeu_ps(gw + j, m, _mm512_sub_ps(_mm512_maskz_loadu_ps(m, gw + j), _mm512_mul_ps(ts, li)));
    _mm512_mask_storeu_ps(gd + j, m,
                          _mm512_sub_ps(_mm512_maskz_loadu_ps(m, gd + j), _mm512_mul_ps(wv, _mm512_sub_ps(li, lv))));
  }
  _mm512_storeu_ps(lanes, acc);
}

template <typename D>
void gather_v(const double* hist, const double* w, const D* s, uint32_t N, int32_t n, uint32_t mask, uint32_t rows,
              uint32_t end, double tau_s, double* gw, double* gd, double* lanes) {
  const HistCells cells(n, mask, rows, end);
  const __m512d ts = _mm512_set1_pd(tau_s);
  __m512d acc[2] = {_mm512_loadu_pd(lanes), _mm512_loadu_pd(lanes + 8)};
  uint32_t j = 0;
  for (; j < N; j += 16) {  // the last block in lanes l < N - j only
    const __mmask16 m = j + 16 <= N ? __mmask16(0xffff) : tail_mask(j, N);
    const __m512i c2 = _mm512_slli_epi32(cells.at(load16_masked(s + j, m), j), 1);  // index of lambda_V in hist
    for (int h = 0; h < 2; ++h) {
      const __mmask8 mh = __mmask8(m >> (8 * h));
      if (!mh) break;  // no lane left (a gather costs by its width)
      const __m256i at = h ? _mm512_extracti64x4_epi64(c2, 1) : _mm512_castsi512_si256(c2);
      const __m512d lv = _mm512_mask_i32gather_pd(_mm512_setzero_pd(), mh, at, hist, 8);
      const __m512d li = _mm512_mask_i32gather_pd(_mm512_setzero_pd(), mh, at, hist + 1, 8);
      const __m512d wv = _mm512_maskz_loadu_pd(mh, w + j + 8 * h);
      acc[h] = _mm512_mask_add_pd(acc[h], mh, acc[h], _mm512_mul_pd(wv, _mm512_sub_pd(lv, li)));
      double* gwh = gw + j + 8 * h;
      double* gdh = gd + j + 8 * h;
      _mm512_mask_storeu_pd(gwh, mh, _mm512_sub_pd(_mm512_maskz_loadu_pd(mh, gwh), _mm512_mul_pd(ts, li)));
      _mm512_mask_storeu_pd(gdh, mh,
                            _mm512_sub_pd(_mm512_maskz_loadu_pd(mh, gdh), _mm512_mul_pd(wv, _mm512_sub_pd(li, lv))));
    }
  }
  _mm512_storeu_pd(lanes, acc[0]);
  _mm512_storeu_pd(lanes + 8, acc[1]);
}

// See SynapseKernels::gradients: neuron block by neuron block (lanes l < width), spikes in
// reverse order; a spike's cells in the block are hist_cell(steps[k] + 1 + s[j], j, rows).
// A block's gradients are summed in scratch (gw then gd, 2 x 16 values per presynaptic
// neuron and block: it stays in L2, the sample's gradient rows do not), then written to
// every row, bypassing the cache where a row's block is a whole aligned line (the fold reads
// them many samples later; no read for ownership), and scratch is cleared. The float set
// takes kGradBlocks blocks per pass over the spikes (a spike's step, row and delay line are
// then read once for both; 2 % faster than one, 4 blocks were slower than 2: their
// histories' windows crowd L1). (Prefetching the next spikes' rows instead made it slower.)
template <typename Real>
inline void write_block(Real* g, const Real* a, __mmask16 m) {
  if constexpr (sizeof(Real) == 4) {
    if (m == 0xffff && !(reinterpret_cast<uintptr_t>(g) & 63)) _mm512_stream_ps(g, _mm512_loadu_ps(a));
    else _mm512_mask_storeu_ps(g, m, _mm512_loadu_ps(a));
  } else {
    for (int h = 0; h < 2; ++h) {
      const __mmask8 mh = __mmask8(m >> (8 * h));
      const __m512d v = _mm512_loadu_pd(a + 8 * h);
      if (mh == 0xff && !(reinterpret_cast<uintptr_t>(g + 8 * h) & 63)) _mm512_stream_pd(g + 8 * h, v);
      else _mm512_mask_storeu_pd(g + 8 * h, mh, v);
    }
  }
}

template <typename Real>
inline void write_blocks(Real* gw, Real* gd, Real* scratch, uint32_t n_pre, uint32_t N, uint32_t j0, __mmask16 m,
                         uint32_t g = 0) {
  for (uint32_t i = 0; i < n_pre; ++i) {
    const size_t at = size_t(i) * N + j0;
    Real* a = scratch + (size_t(i) * kGradBlocks + g) * 2 * kXWidth;
    write_block(gw + at, a, m);
    write_block(gd + at, a + kXWidth, m);
    for (uint32_t l = 0; l < 2 * kXWidth; ++l) a[l] = Real(0);
  }
}

// One spike's gradients in one block of 16 neurons (lanes in mg), summed into a: gw's 16, then
// gd's. kWhole: every lane, no masks.
template <bool kWhole, typename D>
inline void gradient_block(const long long* pairs, const float* w, const D* s, __m512i n1, __m512i last,
                           __m512 ts, float* a, __mmask16 mg) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i sv = kWhole ? load16(s) : load16_masked(s, mg);
  const __m512i c = _mm512_add_epi32(_mm512_slli_epi32(_mm512_min_epu32(_mm512_add_epi32(sv, n1), last), 4), iota);
  const __m256i c0 = _mm512_castsi512_si256(c), c1 = _mm512_extracti64x4_epi64(c, 1);
  __m512i lo, hi;
  if constexpr (kWhole) {
    lo = _mm512_i32gather_epi64(c0, pairs, 8);
    hi = _mm512_i32gather_epi64(c1, pairs, 8);
  } else {
    lo = _mm512_mask_i32gather_epi64(_mm512_setzero_si512(), __mmask8(mg), c0, pairs, 8);
    hi = _mm512_mask_i32gather_epi64(_mm512_setzero_si512(), __mmask8(mg >> 8), c1, pairs, 8);
  }
  const __m512 lv = _mm512_permutex2var_ps(_mm512_castsi512_ps(lo), even, _mm512_castsi512_ps(hi));
  const __m512 li = _mm512_permutex2var_ps(_mm512_castsi512_ps(lo), odd, _mm512_castsi512_ps(hi));
  const __m512 wv = kWhole ? _mm512_loadu_ps(w) : _mm512_maskz_loadu_ps(mg, w);
  _mm512_storeu_ps(a, _mm512_sub_ps(_mm512_loadu_ps(a), _mm512_mul_ps(ts, li)));
  const __m512 d = _mm512_mul_ps(wv, _mm512_sub_ps(li, lv));
  _mm512_storeu_ps(a + kXWidth, _mm512_sub_ps(_mm512_loadu_ps(a + kXWidth), d));
}

template <typename D>
void gradients_v(const float* hist, const float* w, const D* s, uint32_t N, uint32_t n_pre, const uint32_t* pre,
                 const int32_t* steps, uint32_t K, uint32_t rows, float tau_s, float* gw, float* gd, float* scratch) {
  const __m512 ts = _mm512_set1_ps(tau_s);
  const __m512i last = _mm512_set1_epi32(int(rows - 1));  // hist_row of a history of every step
  constexpr uint32_t G = kGradBlocks;
  const size_t hblock = size_t(rows) * kXWidth;  // pairs per neuron block
  for (uint32_t j0 = 0; j0 < N; j0 += kXWidth * G) {
    const long long* pairs = reinterpret_cast<const long long*>(hist) + size_t(j0 / kXWidth) * hblock;
    uint32_t nb = 0;
    __mmask16 m[G];
    for (; nb < G && j0 + nb * kXWidth < N; ++nb) {
      const uint32_t width = N - j0 - nb * kXWidth < kXWidth ? N - j0 - nb * kXWidth : kXWidth;
      m[nb] = width == 16 ? __mmask16(0xffff) : __mmask16((1u << width) - 1);
    }
    const bool whole = nb == G && j0 + G * kXWidth <= N;
    for (uint32_t k = K; k-- > 0;) {
      const size_t at = size_t(pre[k]) * N + j0;
      float* a = scratch + size_t(pre[k]) * 2 * kXWidth * G;
      const __m512i n1 = _mm512_set1_epi32(int(uint32_t(steps[k]) + 1));
      if (whole) {
        for (uint32_t g = 0; g < G; ++g)
          gradient_block<true>(pairs + g * hblock, w + at + g * kXWidth, s + at + g * kXWidth, n1, last, ts,
                               a + g * 2 * kXWidth, 0xffff);
      } else {
        for (uint32_t g = 0; g < nb; ++g)
          gradient_block<false>(pairs + g * hblock, w + at + g * kXWidth, s + at + g * kXWidth, n1, last, ts,
                                a + g * 2 * kXWidth, m[g]);
      }
    }
    for (uint32_t g = 0; g < nb; ++g) write_blocks(gw, gd, scratch, n_pre, N, j0 + g * kXWidth, m[g], g);
  }
  _mm_sfence();
}

template <typename D>
void gradients_v(const double* hist, const double* w, const D* s, uint32_t N, uint32_t n_pre, const uint32_t* pre,
                 const int32_t* steps, uint32_t K, uint32_t rows, double tau_s, double* gw, double* gd,
                 double* scratch) {
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512d ts = _mm512_set1_pd(tau_s);
  const __m512i last = _mm512_set1_epi32(int(rows - 1));  // hist_row of a history of every step
  for (uint32_t j0 = 0; j0 < N; j0 += kXWidth) {
    const double* hb = hist + size_t(j0 / kXWidth) * rows * kXWidth * 2;
    const uint32_t width = N - j0 < kXWidth ? N - j0 : kXWidth;
    const __mmask16 m = width == 16 ? __mmask16(0xffff) : __mmask16((1u << width) - 1);
    for (uint32_t k = K; k-- > 0;) {
      const size_t at = size_t(pre[k]) * N + j0;
      double* a = scratch + size_t(pre[k]) * 2 * kXWidth * kGradBlocks;  // its first block only
      const __m512i n1 = _mm512_set1_epi32(int(uint32_t(steps[k]) + 1));
      const __m512i row = _mm512_min_epu32(_mm512_add_epi32(load16_masked(s + at, m), n1), last);
      const __m512i c2 = _mm512_slli_epi32(_mm512_add_epi32(_mm512_slli_epi32(row, 4), iota), 1);
      for (int h = 0; h < 2; ++h) {
        const __mmask8 mh = __mmask8(m >> (8 * h));
        const __m256i ch = h ? _mm512_extracti64x4_epi64(c2, 1) : _mm512_castsi512_si256(c2);
        const __m512d lv = _mm512_mask_i32gather_pd(_mm512_setzero_pd(), mh, ch, hb, 8);
        const __m512d li = _mm512_mask_i32gather_pd(_mm512_setzero_pd(), mh, ch, hb + 1, 8);
        const __m512d wv = _mm512_maskz_loadu_pd(mh, w + at + 8 * h);
        double* ah = a + 8 * h;
        _mm512_storeu_pd(ah, _mm512_sub_pd(_mm512_loadu_pd(ah), _mm512_mul_pd(ts, li)));
        const __m512d d = _mm512_mul_pd(wv, _mm512_sub_pd(li, lv));
        _mm512_storeu_pd(ah + kXWidth, _mm512_sub_pd(_mm512_loadu_pd(ah + kXWidth), d));
      }
    }
    write_blocks(gw, gd, scratch, n_pre, N, j0, m);
  }
  _mm_sfence();
}

// The fold of kernels/common.hpp, 8 parameters at a time: the 6 digits of 8 parameters are
// held in 6 registers (digit-major) while the values are added; a value takes exact_add's
// fast path in exactly the lanes where exact_add would (the same three parts at the same
// digits), the others go through exact_add_general after the block. Float32 values: the
// lanes where fold_float_parameter adds the samples' double sum add that sum, the others
// each value. Integer sums: the digits are those of the scalar fold.
static_assert(ExactSum::kDigits == 6 && ExactSum::kDigitBits == 32, "the fold below is written for 6 x 32 bits");

inline __m512i load8_bits(const double* g) { return _mm512_loadu_si512(g); }
inline __m512i load8_bits(const float* g) { return _mm512_castpd_si512(_mm512_cvtps_pd(_mm256_loadu_ps(g))); }

constexpr size_t kFoldAhead = 8;  // blocks of 8 parameters whose digits are prefetched ahead

template <typename Real>
bool fold_v(const Real* g, uint32_t n_samples, size_t stride, size_t P, int64_t* digits) {
  constexpr int kFastMax = (ExactSum::kDigits - 3) * ExactSum::kDigitBits + ExactSum::kDigitBits - 1;
  const __m512i idx = _mm512_setr_epi64(0, 6, 12, 18, 24, 30, 36, 42);
  const __m512i mant = _mm512_set1_epi64((int64_t(1) << 52) - 1), implicit = _mm512_set1_epi64(int64_t(1) << 52);
  const __m512i e7ff = _mm512_set1_epi64(0x7ff), bias = _mm512_set1_epi64(1075 + ExactSum::kLsbExp);
  const __m512i fast_max = _mm512_set1_epi64(kFastMax), low32 = _mm512_set1_epi64(0xffffffffLL);
  const __m512i c31 = _mm512_set1_epi64(31), c63 = _mm512_set1_epi64(63), one = _mm512_set1_epi64(1);
  const __m512i abs_mask = _mm512_set1_epi64(0x7fffffffffffffffLL);
  bool ok = true;
  size_t i = 0;
  struct Slow {
    int lane;
    double x;
  };
  Slow slow[8 * (kFoldMax + 1)];
  int n_slow = 0;
  __m512i D[6];
  // Adds the doubles `bits` in the lanes `lanes` (zeros skipped) to D, or to the slow list.
  auto add = [&](__m512i bits, __mmask8 lanes) {
    const __mmask8 nz = lanes & _mm512_test_epi64_mask(bits, abs_mask);
    if (!nz) return;
    const __m512i k = _mm512_sub_epi64(_mm512_and_si512(_mm512_srli_epi64(bits, 52), e7ff), bias);
    const __mmask8 fast = nz & _mm512_cmple_epu64_mask(k, fast_max);  // 0 <= k <= kFastMax
    if (__mmask8 sl = nz & __mmask8(~fast)) {
      alignas(64) double x[8];
      _mm512_store_si512(x, bits);
      for (; sl; sl &= __mmask8(sl - 1)) {
        const int lane = __builtin_ctz(sl);
        slow[n_slow++] = {lane, x[lane]};
      }
    }
    const __m512i m = _mm512_or_si512(_mm512_and_si512(bits, mant), implicit);
    const __m512i d0 = _mm512_srli_epi64(k, 5), sh = _mm512_and_si512(k, c31);
    const __m512i lo = _mm512_sllv_epi64(m, sh);
    const __m512i hi = _mm512_srlv_epi64(_mm512_srlv_epi64(m, _mm512_sub_epi64(c63, sh)), one);
    const __m512i sign = _mm512_srai_epi64(bits, 63);
    const __m512i p0 = _mm512_sub_epi64(_mm512_xor_si512(_mm512_and_si512(lo, low32), sign), sign);
    const __m512i p1 = _mm512_sub_epi64(_mm512_xor_si512(_mm512_srli_epi64(lo, 32), sign), sign);
    const __m512i p2 = _mm512_sub_epi64(_mm512_xor_si512(hi, sign), sign);
    for (int q = 0; q < 4; ++q) {
      const __mmask8 at = fast & _mm512_cmpeq_epi64_mask(d0, _mm512_set1_epi64(q));
      D[q] = _mm512_mask_add_epi64(D[q], at, D[q], p0);
      D[q + 1] = _mm512_mask_add_epi64(D[q + 1], at, D[q + 1], p1);
      D[q + 2] = _mm512_mask_add_epi64(D[q + 2], at, D[q + 2], p2);
    }
  };
  for (; i + 8 <= P && n_samples <= kFoldMax; i += 8) {
    int64_t* d = digits + i * ExactSum::kDigits;
    if (i + 8 * kFoldAhead < P)
      for (int l = 0; l < 6; ++l)
        _mm_prefetch(reinterpret_cast<const char*>(d + 8 * kFoldAhead * ExactSum::kDigits) + 64 * l, _MM_HINT_T0);
    __mmask8 any = 0, presum = 0;
    __m512d sum = _mm512_setzero_pd();
    if constexpr (sizeof(Real) == 4) {
      // The float exponents' range per lane, over the nonzero values, and the double sum.
      const __m256i abs32 = _mm256_set1_epi32(0x7fffffff), ff = _mm256_set1_epi32(0xff);
      __m256i elo = ff, ehi = _mm256_setzero_si256();
      for (uint32_t s = 0; s < n_samples; ++s) {
        const __m256 x = _mm256_loadu_ps(g + size_t(s) * stride + i);
        const __m256i bits = _mm256_castps_si256(x);
        const __mmask8 nz = _mm256_test_epi32_mask(bits, abs32);
        const __m256i e = _mm256_and_si256(_mm256_srli_epi32(bits, 23), ff);
        elo = _mm256_mask_min_epu32(elo, nz, elo, e);
        ehi = _mm256_mask_max_epu32(ehi, nz, ehi, e);
        sum = _mm512_add_pd(sum, _mm512_cvtps_pd(x));
        any |= nz;
      }
      presum = any & _mm256_cmpge_epu32_mask(elo, _mm256_set1_epi32(int(kPresumMinExp))) &
               _mm256_cmple_epu32_mask(ehi, _mm256_set1_epi32(int(kPresumMaxExp))) &
               _mm256_cmple_epu32_mask(_mm256_sub_epi32(ehi, elo), _mm256_set1_epi32(int(kPresumSpread)));
      if (n_samples > kPresumTerms) presum = 0;
    } else {
      for (uint32_t s = 0; s < n_samples; ++s)
        any |= _mm512_test_epi64_mask(load8_bits(g + size_t(s) * stride + i), abs_mask);
    }
    if (!any) continue;  // nothing to add to these 8 parameters
    for (int t = 0; t < 6; ++t) D[t] = _mm512_i64gather_epi64(idx, d + t, 8);
    n_slow = 0;
    if (presum) add(_mm512_castpd_si512(sum), presum);
    if (const __mmask8 rest = any & __mmask8(~presum))
      for (uint32_t s = 0; s < n_samples; ++s) add(load8_bits(g + size_t(s) * stride + i), rest);
    for (int t = 0; t < 6; ++t) _mm512_i64scatter_epi64(d + t, idx, D[t], 8);
    for (int k = 0; k < n_slow; ++k) ok &= exact_add_general(d + slow[k].lane * ExactSum::kDigits, slow[k].x);
  }
  for (; i < P; ++i) {  // the last P mod 8 parameters (or all, for more than kFoldMax samples)
    int64_t* d = digits + i * ExactSum::kDigits;
    if constexpr (sizeof(Real) == 4) {
      ok &= fold_float_parameter(g + i, stride, n_samples, d);
    } else {
      for (uint32_t s = 0; s < n_samples; ++s)
        if (const double v = g[size_t(s) * stride + i]; v != 0.0) ok &= exact_add(d, v);
    }
  }
  return ok;
}

// See ReduceFn: reduce_lanes' tree in registers.
float reduce_v(const float* lanes) {
  const __m512 p = _mm512_loadu_ps(lanes);
  const __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(p), _mm512_extractf32x8_ps(p, 1));
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}
double reduce_v(const double* lanes) {
  const __m512d s8 = _mm512_add_pd(_mm512_loadu_pd(lanes), _mm512_loadu_pd(lanes + 8));
  const __m256d s4 = _mm256_add_pd(_mm512_castpd512_pd256(s8), _mm512_extractf64x4_pd(s8, 1));
  const __m128d s2 = _mm_add_pd(_mm256_castpd256_pd128(s4), _mm256_extractf128_pd(s4, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s2, _mm_unpackhi_pd(s2, s2)));
}

// See RoundFn: exact_normalise and exact_to_double (core/exact_sum.hpp) spelled out for 8
// sums at a time, digit t of the 8 in register D[t]; the rest of n mod 8 by round_sums.
size_t round_v(const int64_t* digits, size_t n, double* out) {
  static_assert(ExactSum::kDigits == 6 && ExactSum::kDigitBits == 32);
  const __m512i idx = _mm512_setr_epi64(0, 6, 12, 18, 24, 30, 36, 42);
  const __m512i one = _mm512_set1_epi64(1), zero = _mm512_setzero_si512(), c64 = _mm512_set1_epi64(64);
  const __m512i top_hi = _mm512_set1_epi64(int64_t(1) << 30), top_lo = _mm512_set1_epi64(-(int64_t(1) << 30));
  const __m512i nan = _mm512_set1_epi64(0x7ff8000000000000LL);
  size_t bad = n, i = 0;
  for (; i + 8 <= n; i += 8) {
    const int64_t* d = digits + i * ExactSum::kDigits;
    if (i + 8 * kFoldAhead < n)  // as the fold: the gathers do not start the hardware prefetch
      for (int l = 0; l < 6; ++l)
        _mm_prefetch(reinterpret_cast<const char*>(d + 8 * kFoldAhead * ExactSum::kDigits) + 64 * l, _MM_HINT_T0);
    __m512i D[6];
    for (int t = 0; t < 6; ++t) D[t] = _mm512_i64gather_epi64(idx, d + t, 8);
    for (int t = 0; t + 1 < 6; ++t) {  // normalise: carries up, floor division by 2^32
      const __m512i carry = _mm512_srai_epi64(D[t], 32);
      D[t] = _mm512_sub_epi64(D[t], _mm512_slli_epi64(carry, 32));
      D[t + 1] = _mm512_add_epi64(D[t + 1], carry);
    }
    const __mmask8 ok = _mm512_cmplt_epi64_mask(D[5], top_hi) & _mm512_cmpge_epi64_mask(D[5], top_lo);
    __m512i w0 = _mm512_or_si512(D[0], _mm512_slli_epi64(D[1], 32));
    __m512i w1 = _mm512_or_si512(D[2], _mm512_slli_epi64(D[3], 32));
    __m512i w2 = _mm512_or_si512(D[4], _mm512_slli_epi64(D[5], 32));
    const __m512i neg = _mm512_srai_epi64(w2, 63);
    const __mmask8 negm = _mm512_test_epi64_mask(neg, neg);
    w0 = _mm512_xor_si512(w0, neg), w1 = _mm512_xor_si512(w1, neg), w2 = _mm512_xor_si512(w2, neg);
    w0 = _mm512_mask_add_epi64(w0, negm, w0, one);
    const __mmask8 c1 = negm & _mm512_cmpeq_epi64_mask(w0, zero);
    w1 = _mm512_mask_add_epi64(w1, c1, w1, one);
    const __mmask8 c2 = c1 & _mm512_cmpeq_epi64_mask(w1, zero);
    w2 = _mm512_mask_add_epi64(w2, c2, w2, one);
    const __mmask8 t2 = _mm512_test_epi64_mask(w2, w2), t1 = _mm512_test_epi64_mask(w1, w1);
    const __m512i hi = _mm512_mask_blend_epi64(t2, _mm512_mask_blend_epi64(t1, w0, w1), w2);
    const __m512i lo = _mm512_mask_blend_epi64(t2, _mm512_maskz_mov_epi64(t1, w0), w1);
    const __mmask8 rest = t2 & _mm512_test_epi64_mask(w0, w0);
    const __mmask8 nonzero = _mm512_test_epi64_mask(hi, hi);
    const __m512i lz = _mm512_lzcnt_epi64(hi);
    const __m512i word = _mm512_mask_blend_epi64(t2, _mm512_maskz_mov_epi64(t1, c64), _mm512_set1_epi64(128));
    const __m512i pos = _mm512_sub_epi64(_mm512_add_epi64(word, _mm512_set1_epi64(63)), lz);
    // srlv by 64 gives 0, as the scalar code's lz == 0 case.
    const __m512i window = _mm512_or_si512(_mm512_sllv_epi64(hi, lz), _mm512_srlv_epi64(lo, _mm512_sub_epi64(c64, lz)));
    const __mmask8 sticky = _mm512_test_epi64_mask(_mm512_sllv_epi64(lo, lz), _mm512_sllv_epi64(lo, lz)) | rest |
                            _mm512_test_epi64_mask(window, _mm512_set1_epi64(0x3ff));
    __m512i mant = _mm512_srli_epi64(window, 11);
    const __mmask8 up = _mm512_test_epi64_mask(window, _mm512_set1_epi64(1 << 10)) &
                        (sticky | _mm512_test_epi64_mask(mant, one));
    mant = _mm512_mask_add_epi64(mant, up, mant, one);
    const __m512i biased = _mm512_add_epi64(pos, _mm512_set1_epi64(ExactSum::kLsbExp + 1023));
    const __m512i fraction = _mm512_sub_epi64(mant, _mm512_set1_epi64(int64_t(1) << 52));  // a carry moves on
    __m512i bits = _mm512_add_epi64(_mm512_slli_epi64(biased, 52), fraction);
    bits = _mm512_or_si512(bits, _mm512_slli_epi64(neg, 63));
    bits = _mm512_maskz_mov_epi64(nonzero, bits);  // hi == 0: the sum is 0 (+0.0)
    bits = _mm512_mask_mov_epi64(nan, ok, bits);
    _mm512_storeu_si512(out + i, bits);
    if (ok != 0xff && bad == n) bad = i + size_t(__builtin_ctz(unsigned(__mmask8(~ok))));
  }
  const size_t rest_bad = round_sums(digits + i * ExactSum::kDigits, n - i, out + i);
  return bad < n ? bad : rest_bad == n - i ? n : i + rest_bad;
}

// See AdjointFn: adjoint_step's operations spelled out (s = 0 kept, so that zeros keep their
// signs), 16 neurons at a time, the pairs interleaved by two permutes.
inline void adjoint16(const StepConstants<float>& k, bool step, float* lv, float* li, float* h) {
  __m512 L = _mm512_loadu_ps(lv), I = _mm512_loadu_ps(li);
  if (step) {
    const __m512 z = _mm512_setzero_ps();
    const __m512 omb = _mm512_set1_ps(1.0f - k.beta), oma = _mm512_set1_ps(1.0f - k.alpha);
    I = _mm512_sub_ps(_mm512_add_ps(_mm512_mul_ps(_mm512_set1_ps(k.beta), I),
                                    _mm512_mul_ps(_mm512_set1_ps(k.a_coef), _mm512_add_ps(L, z))),
                      _mm512_mul_ps(omb, z));
    L = _mm512_sub_ps(_mm512_mul_ps(_mm512_set1_ps(k.alpha), L), _mm512_mul_ps(oma, z));
    _mm512_storeu_ps(lv, L);
    _mm512_storeu_ps(li, I);
  }
  const __m512i lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i hi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  _mm512_storeu_ps(h, _mm512_permutex2var_ps(L, lo, I));
  _mm512_storeu_ps(h + 16, _mm512_permutex2var_ps(L, hi, I));
}

inline void adjoint16(const StepConstants<double>& k, bool step, double* lv, double* li, double* h) {
  for (int q = 0; q < 2; ++q) {
    __m512d L = _mm512_loadu_pd(lv + 8 * q), I = _mm512_loadu_pd(li + 8 * q);
    if (step) {
      const __m512d z = _mm512_setzero_pd();
      const __m512d omb = _mm512_set1_pd(1.0 - k.beta), oma = _mm512_set1_pd(1.0 - k.alpha);
      I = _mm512_sub_pd(_mm512_add_pd(_mm512_mul_pd(_mm512_set1_pd(k.beta), I),
                                      _mm512_mul_pd(_mm512_set1_pd(k.a_coef), _mm512_add_pd(L, z))),
                        _mm512_mul_pd(omb, z));
      L = _mm512_sub_pd(_mm512_mul_pd(_mm512_set1_pd(k.alpha), L), _mm512_mul_pd(oma, z));
      _mm512_storeu_pd(lv + 8 * q, L);
      _mm512_storeu_pd(li + 8 * q, I);
    }
    const __m512i lo = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11);
    const __m512i hi = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
    _mm512_storeu_pd(h + 16 * q, _mm512_permutex2var_pd(L, lo, I));
    _mm512_storeu_pd(h + 16 * q + 8, _mm512_permutex2var_pd(L, hi, I));
  }
}

template <typename Real>
void adjoint_v(const StepConstants<Real>& k, bool step, Real* lv, Real* li, uint32_t N, Real* h, size_t hstride) {
  uint32_t j0 = 0;
  for (; j0 + kXWidth <= N; j0 += kXWidth, h += hstride) adjoint16(k, step, lv + j0, li + j0, h);
  for (uint32_t l = 0; j0 + l < N; ++l) {
    if (step) adjoint_step(k, Real(0), lv[j0 + l], li[j0 + l]);
    h[2 * l] = lv[j0 + l];
    h[2 * l + 1] = li[j0 + l];
  }
}

// See NeuronFn: neuron_step's and lif_step's operations spelled out, 16 neurons at a time
// (the tail block masked); (1 - alpha) c is one constant, as lif_step's left-to-right product
// computes it first.
inline __mmask16 neuron16(const StepConstants<float>& k, float* v, float* i, float* cell, float* x, float* i0,
                          __mmask16 m) {
  __m512 A = _mm512_maskz_loadu_ps(m, cell);
  _mm512_mask_storeu_ps(cell, m, _mm512_setzero_ps());
  if (x) {
    A = _mm512_add_ps(_mm512_maskz_loadu_ps(m, x), A);
    _mm512_mask_storeu_ps(x, m, _mm512_setzero_ps());
  }
  const __m512 I0 = _mm512_add_ps(_mm512_maskz_loadu_ps(m, i), A);
  const __m512 V = _mm512_add_ps(_mm512_mul_ps(_mm512_set1_ps(k.alpha), _mm512_maskz_loadu_ps(m, v)),
                                 _mm512_mul_ps(_mm512_set1_ps((1.0f - k.alpha) * k.c), I0));
  _mm512_mask_storeu_ps(i0, m, I0);
  _mm512_mask_storeu_ps(v, m, V);
  _mm512_mask_storeu_ps(i, m, _mm512_mul_ps(_mm512_set1_ps(k.beta), I0));
  return _mm512_mask_cmp_ps_mask(m, V, _mm512_set1_ps(k.theta), _CMP_GE_OQ);
}

inline __mmask16 neuron16(const StepConstants<double>& k, double* v, double* i, double* cell, double* x, double* i0,
                          __mmask16 m) {
  __mmask16 fire = 0;
  for (int q = 0; q < 2; ++q) {
    const __mmask8 mq = __mmask8(m >> (8 * q));
    const size_t o = 8 * size_t(q);
    __m512d A = _mm512_maskz_loadu_pd(mq, cell + o);
    _mm512_mask_storeu_pd(cell + o, mq, _mm512_setzero_pd());
    if (x) {
      A = _mm512_add_pd(_mm512_maskz_loadu_pd(mq, x + o), A);
      _mm512_mask_storeu_pd(x + o, mq, _mm512_setzero_pd());
    }
    const __m512d I0 = _mm512_add_pd(_mm512_maskz_loadu_pd(mq, i + o), A);
    const __m512d V = _mm512_add_pd(_mm512_mul_pd(_mm512_set1_pd(k.alpha), _mm512_maskz_loadu_pd(mq, v + o)),
                                    _mm512_mul_pd(_mm512_set1_pd((1.0 - k.alpha) * k.c), I0));
    _mm512_mask_storeu_pd(i0 + o, mq, I0);
    _mm512_mask_storeu_pd(v + o, mq, V);
    _mm512_mask_storeu_pd(i + o, mq, _mm512_mul_pd(_mm512_set1_pd(k.beta), I0));
    fire |= __mmask16(_mm512_mask_cmp_pd_mask(mq, V, _mm512_set1_pd(k.theta), _CMP_GE_OQ)) << (8 * q);
  }
  return fire;
}

template <typename Real>
uint32_t neuron_v(const StepConstants<Real>& k, Real* v, Real* i, Real* cell, Real* x, size_t xstride, Real* i0,
                  uint32_t N, uint32_t* spiked) {
  uint32_t n = 0;
  for (uint32_t j0 = 0; j0 < N; j0 += kXWidth) {
    const uint32_t width = N - j0 < kXWidth ? N - j0 : kXWidth;
    const __mmask16 m = width == kXWidth ? __mmask16(0xffff) : __mmask16((1u << width) - 1);
    Real* xb = x ? x + size_t(j0 / kXWidth) * xstride : nullptr;
    uint32_t fire = neuron16(k, v + j0, i + j0, cell + j0, xb, i0 + j0, m);
    if (spiked)
      for (; fire; fire &= fire - 1) spiked[n++] = j0 + uint32_t(__builtin_ctz(fire));
  }
  return n;
}

}  // namespace

template <typename Real>
NeuronFn<Real> avx512_neuron() {
  return &neuron_v<Real>;
}
template NeuronFn<float> avx512_neuron<float>();
template NeuronFn<double> avx512_neuron<double>();

template <typename Real>
AdjointFn<Real> avx512_adjoint() {
  return &adjoint_v<Real>;
}
template AdjointFn<float> avx512_adjoint<float>();
template AdjointFn<double> avx512_adjoint<double>();

RoundFn avx512_round() { return &round_v; }

template <typename Real>
ReduceFn<Real> avx512_reduce() {
  return static_cast<ReduceFn<Real>>(&reduce_v);
}
template ReduceFn<float> avx512_reduce<float>();
template ReduceFn<double> avx512_reduce<double>();

template <typename Real>
FoldFn<Real> avx512_fold() {
  return &fold_v<Real>;
}
template FoldFn<float> avx512_fold<float>();
template FoldFn<double> avx512_fold<double>();

template <typename Real, typename D>
SynapseKernels<Real, D> avx512_kernels() {
  return {&scatter_v<D>, &gather_v<D>, &gradients_v<D>, &scatter_inputs_v<Real, D>};
}
template SynapseKernels<float, uint8_t> avx512_kernels<float, uint8_t>();
template SynapseKernels<float, uint16_t> avx512_kernels<float, uint16_t>();
template SynapseKernels<float, int32_t> avx512_kernels<float, int32_t>();
template SynapseKernels<double, uint8_t> avx512_kernels<double, uint8_t>();
template SynapseKernels<double, uint16_t> avx512_kernels<double, uint16_t>();
template SynapseKernels<double, int32_t> avx512_kernels<double, int32_t>();

}  // namespace delayprop::cpu

#pragma GCC pop_options
#else
namespace delayprop::cpu {
template <typename Real>
NeuronFn<Real> avx512_neuron() {
  return neuron_for<Real>(Isa::Scalar);
}
template NeuronFn<float> avx512_neuron<float>();
template NeuronFn<double> avx512_neuron<double>();
template <typename Real>
AdjointFn<Real> avx512_adjoint() {
  return adjoint_for<Real>(Isa::Scalar);
}
template AdjointFn<float> avx512_adjoint<float>();
template AdjointFn<double> avx512_adjoint<double>();
RoundFn avx512_round() { return round_for(Isa::Scalar); }
template <typename Real>
ReduceFn<Real> avx512_reduce() {
  return reduce_for<Real>(Isa::Scalar);
}
template ReduceFn<float> avx512_reduce<float>();
template ReduceFn<double> avx512_reduce<double>();
template <typename Real>
FoldFn<Real> avx512_fold() {
  return fold_for<Real>(Isa::Scalar);
}
template FoldFn<float> avx512_fold<float>();
template FoldFn<double> avx512_fold<double>();
template <typename Real, typename D>
SynapseKernels<Real, D> avx512_kernels() {
  return scalar_kernels<Real, D>();
}
template SynapseKernels<float, uint8_t> avx512_kernels<float, uint8_t>();
template SynapseKernels<float, uint16_t> avx512_kernels<float, uint16_t>();
template SynapseKernels<float, int32_t> avx512_kernels<float, int32_t>();
template SynapseKernels<double, uint8_t> avx512_kernels<double, uint8_t>();
template SynapseKernels<double, uint16_t> avx512_kernels<double, uint16_t>();
template SynapseKernels<double, int32_t> avx512_kernels<double, int32_t>();
}  // namespace delayprop::cpu
#endif
