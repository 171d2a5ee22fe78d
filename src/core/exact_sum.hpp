#pragma once
// Exact, order-independent sums of doubles (MODEL.md §3.3). A sum is held in fixed point:
// kDigits signed 64-bit digits of 32 bits each (carry-save: a digit may exceed 32 bits until
// normalised), the lowest digit worth 2^kLsbExp. Adding a double adds integers, and integer
// addition is associative, so a sum does not depend on the order of its terms, on how they
// were grouped (threads, ranks, GPUs), or on where the groups were added up: every rank gets
// the same bits from an all-reduce that simply sums the digits as int64.
//
// Range and precision: every double with |x| in [2^(kLsbExp + 52), 2^kTopExp) is held
// exactly; smaller ones are rounded to a multiple of 2^kLsbExp (to nearest, ties to even;
// the same for any order). Up to 2^31 terms can be summed before a digit could overflow;
// a sum that leaves the range is reported, never wrapped. The final rounding to double
// (to nearest, ties to even) is the only rounding of the result.
#include <cmath>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <span>
#include <vector>

#include "core/error.hpp"
#include "core/model_math.hpp"

namespace delayprop {

struct ExactSum {
  static constexpr int kDigits = 6;
  static constexpr int kDigitBits = 32;
  static constexpr int kLsbExp = -130;                                // value of the lowest bit
  static constexpr int kTopExp = kLsbExp + kDigits * kDigitBits - 2;  // 60: |sum| < 2^60
};

// Adds x to the digits d[0..kDigits) (d[k] is worth 2^(kLsbExp + 32 k)): the general case,
// for zeros, subnormals, values below the lowest bit (rounded), out-of-range values and
// non-finite ones. Returns false when x is not finite or too large; d is then unchanged.
DP_HOST_DEVICE inline bool exact_add_general(int64_t* d, double x) {
  if (x == 0.0) return true;
  if (!(x == x) || x - x != 0.0) return false;  // NaN or infinite
  uint64_t bits;
  memcpy(&bits, &x, sizeof bits);
  const bool neg = (bits >> 63) != 0;
  const int biased = int((bits >> 52) & 0x7ff);
  uint64_t m = bits & ((uint64_t(1) << 52) - 1);
  int e;  // x = m * 2^e
  if (biased == 0) {
    e = -1074;  // subnormal
  } else {
    m |= uint64_t(1) << 52;
    e = biased - 1075;
  }
  int k = e - ExactSum::kLsbExp;  // bit position of m's lowest bit in the sum
  if (k < 0) {
    // Round m * 2^k to an integer: to nearest, ties to even.
    const int sh = -k;
    if (sh > 54) return true;  // below half of the lowest bit: rounds to 0
    const uint64_t q = m >> sh, rem = m & ((uint64_t(1) << sh) - 1), half = uint64_t(1) << (sh - 1);
    m = q + ((rem > half || (rem == half && (q & 1))) ? 1 : 0);
    k = 0;
    if (m == 0) return true;
  }
  // m < 2^54 shifted by k: digits at k / 32 and the next two (three when the shift spills).
  const int d0 = k / ExactSum::kDigitBits, s = k % ExactSum::kDigitBits;
  const uint64_t lo = m << s, hi = s ? m >> (64 - s) : 0;  // m * 2^s = hi * 2^64 + lo
  const int64_t part[3] = {int64_t(lo & 0xffffffffu), int64_t(lo >> 32), int64_t(hi)};
  const int top = part[2] ? 2 : part[1] ? 1 : 0;
  if (d0 + top >= ExactSum::kDigits || (d0 + top == ExactSum::kDigits - 1 && part[top] >= (int64_t(1) << 30)))
    return false;  // |x| >= 2^kTopExp: out of range
  for (int i = 0; i <= top; ++i) d[d0 + i] += neg ? -part[i] : part[i];
  return true;
}

// Adds x to the digits. The common case (a normal double whose bits all fall inside the
// digits) takes a short branch-free path; the rest is exact_add_general. Returns false when
// x is not finite or too large; d is then unchanged.
DP_HOST_DEVICE inline bool exact_add(int64_t* d, double x) {
  uint64_t bits;
  memcpy(&bits, &x, sizeof bits);
  const int biased = int((bits >> 52) & 0x7ff);
  const int k = biased - 1075 - ExactSum::kLsbExp;  // bit position of the mantissa's lowest bit
  constexpr int kFastMax = (ExactSum::kDigits - 3) * ExactSum::kDigitBits + ExactSum::kDigitBits - 1;
  if (biased == 0 || k < 0 || k > kFastMax) return exact_add_general(d, x);
  const uint64_t m = (bits & ((uint64_t(1) << 52) - 1)) | (uint64_t(1) << 52);
  const int d0 = k >> 5, s = k & 31;
  const uint64_t lo = m << s, hi = (m >> (63 - s)) >> 1;  // m * 2^s = hi * 2^64 + lo, < 2^85
  const int64_t sign = -int64_t(bits >> 63);              // 0, or -1 to negate
  d[d0] += (int64_t(lo & 0xffffffffu) ^ sign) - sign;
  d[d0 + 1] += (int64_t(lo >> 32) ^ sign) - sign;
  d[d0 + 2] += (int64_t(hi) ^ sign) - sign;
  return true;
}

// Brings the digits to canonical form in place (digits 0..kDigits-2 in [0, 2^32), the top
// one signed), so that equal sums have equal digits. Returns false if the sum left the range.
DP_HOST_DEVICE inline bool exact_normalise(int64_t* d) {
  for (int i = 0; i + 1 < ExactSum::kDigits; ++i) {
    const int64_t carry = d[i] >> ExactSum::kDigitBits;  // floor division by 2^32
    d[i] -= carry * (int64_t(1) << ExactSum::kDigitBits);
    d[i + 1] += carry;
  }
  const int64_t top = d[ExactSum::kDigits - 1];
  return top < (int64_t(1) << 30) && top >= -(int64_t(1) << 30);
}

DP_HOST_DEVICE inline int leading_zeros64(uint64_t x) {  // x != 0
#if defined(__CUDA_ARCH__)
  return __clzll(static_cast<long long>(x));
#else
  return __builtin_clzll(x);
#endif
}

// The sum as the nearest double (ties to even). d must be normalised. Branch-free but for
// zero: the signs and sizes of a vector's sums do not follow a pattern a branch predictor
// could learn.
DP_HOST_DEVICE inline double exact_to_double(const int64_t* d) {
  static_assert(ExactSum::kDigits == 6, "three 64-bit words");
  // The 192-bit two's complement integer, as three little-endian words.
  uint64_t w0 = uint64_t(d[0]) | (uint64_t(d[1]) << 32), w1 = uint64_t(d[2]) | (uint64_t(d[3]) << 32),
           w2 = uint64_t(d[4]) | (uint64_t(d[5]) << 32);
  // The magnitude, ~w + 1 where negative.
  const uint64_t neg = uint64_t(int64_t(w2) >> 63);  // all ones when negative
  w0 ^= neg, w1 ^= neg, w2 ^= neg;
  w0 += neg & 1;
  uint64_t carry = (neg & 1) & uint64_t(w0 == 0);
  w1 += carry;
  carry &= uint64_t(w1 == 0);
  w2 += carry;
  // The highest non-zero word (hi), the word below it (lo) and whether any bit below that is set.
  const bool t2 = w2 != 0, t1 = w1 != 0;
  const uint64_t hi = t2 ? w2 : t1 ? w1 : w0;
  const uint64_t lo = t2 ? w1 : t1 ? w0 : 0;
  const bool rest = t2 && w0 != 0;
  if (hi == 0) return 0.0;
  const int lz = leading_zeros64(hi);
  const int pos = (t2 ? 128 : t1 ? 64 : 0) + 63 - lz;  // the highest set bit
  // The 64 bits from pos down, and whether any bit below them is set.
  const uint64_t window = lz ? (hi << lz) | (lo >> (64 - lz)) : hi;
  const bool sticky = (lz ? lo << lz : lo) != 0 || rest || (window & 0x3ff) != 0;
  uint64_t mant = window >> 11;  // 53 bits
  const uint64_t round = (window >> 10) & 1;
  mant += round & (uint64_t(sticky) | (mant & 1));  // may carry to 2^53
  // mant 2^(pos + kLsbExp - 52), a normal double: its bits are the biased exponent of
  // 2^(pos + kLsbExp) above the 52 fraction bits; a carry to 2^53 moves into the exponent.
  uint64_t bits = (uint64_t(pos + ExactSum::kLsbExp + 1023) << 52) + (mant - (uint64_t(1) << 52));
  bits |= neg << 63;
  double x;
  memcpy(&x, &bits, sizeof x);
  return x;
}

// The sums of n elements (digits d, element-major as in ExactVector) rounded to the nearest
// doubles; returns the index of the first sum that left the range (every such one is set to
// NaN), or n. Not for the device: the CPU backend's vector sets have their own (the same bits).
inline size_t round_sums(const int64_t* d, size_t n, double* out) {
  size_t bad = n;
  int64_t t[ExactSum::kDigits];
  for (size_t i = 0; i < n; ++i) {
    std::copy_n(d + i * ExactSum::kDigits, ExactSum::kDigits, t);
    if (exact_normalise(t)) {
      out[i] = exact_to_double(t);
    } else {
      out[i] = NAN;
      if (bad == n) bad = i;
    }
  }
  return bad;
}

// An exact sum per element of a vector: n x kDigits digits, element-major (the digits of
// element i are [i * kDigits, (i + 1) * kDigits)), so that a whole vector is all-reduced as
// one int64 array.
class ExactVector {
 public:
  explicit ExactVector(size_t n = 0) : d_(n * ExactSum::kDigits, 0) {}
  size_t size() const { return d_.size() / ExactSum::kDigits; }
  void assign_zero(size_t n) { d_.assign(n * ExactSum::kDigits, 0); }
  // False when x is not finite or out of range (the element is then unchanged).
  bool add(size_t i, double x) { return exact_add(d_.data() + i * ExactSum::kDigits, x); }
  // Element-wise sum with another vector of the same size.
  void add(const ExactVector& o) {
    for (size_t k = 0; k < d_.size(); ++k) d_[k] += o.d_[k];
  }
  void zero(size_t i0, size_t n) {
    std::fill_n(d_.begin() + i0 * ExactSum::kDigits, n * ExactSum::kDigits, int64_t(0));
  }
  std::span<int64_t> digits() { return d_; }
  std::span<const int64_t> digits() const { return d_; }
  // Each element rounded to the nearest double; returns the index of the first element
  // whose sum left the range, or size() when none did (those are set to NaN).
  size_t round_to(std::span<double> out) const { return round_to(out, 0, size()); }
  // The same for elements [begin, end) only, rounded by `round` (round_sums or a vector
  // set's, the same bits): returns the first such index, or size().
  using RoundFn = size_t (*)(const int64_t* digits, size_t n, double* out);
  size_t round_to(std::span<double> out, size_t begin, size_t end, RoundFn round = &round_sums) const {
    require(out.size() == size(), "exact sums: ", out.size(), " values to round ", size(), " sums into");
    const size_t bad = round(d_.data() + begin * ExactSum::kDigits, end - begin, out.data() + begin);
    return bad == end - begin ? size() : begin + bad;
  }

 private:
  std::vector<int64_t> d_;
};

}  // namespace delayprop
