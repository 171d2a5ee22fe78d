#include "core/resident.hpp"

#include <algorithm>

#include "core/exact_sum.hpp"

namespace delayprop {

std::vector<std::pair<size_t, size_t>> gradient_buckets(size_t n_params, size_t bucket_bytes) {
  const size_t per_param = ExactSum::kDigits * sizeof(int64_t);
  const size_t params_per_bucket = std::max<size_t>(1, bucket_bytes / per_param);
  std::vector<std::pair<size_t, size_t>> b;
  for (size_t p0 = 0; p0 < n_params; p0 += params_per_bucket) {
    const size_t n = std::min(params_per_bucket, n_params - p0);
    b.emplace_back(p0 * ExactSum::kDigits, n * ExactSum::kDigits);
  }
  return b;
}

}  // namespace delayprop
