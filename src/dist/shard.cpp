#include "dist/shard.hpp"

#include <algorithm>
#include <limits>
#include <numeric>
#include <utility>

#include "core/error.hpp"
#include "core/rng.hpp"

namespace delayprop::dist {

Shard shard_of(uint64_t n, int rank, int size) {
  require(size >= 1, "shard_of: number of ranks must be >= 1, got ", size);
  require(rank >= 0 && rank < size, "shard_of: rank ", rank, " out of range [0, ", size, ")");
  const uint64_t r = uint64_t(rank), s = uint64_t(size);
  const uint64_t base = n / s, extra = n % s;
  // Ranks below `extra` hold base + 1 items, the rest base.
  const uint64_t begin = r * base + std::min(r, extra);
  return {begin, begin + base + (r < extra ? 1 : 0)};
}

std::vector<uint32_t> epoch_order(uint64_t n_samples, uint64_t seed, uint32_t epoch) {
  require(n_samples <= std::numeric_limits<uint32_t>::max(), "epoch_order: ", n_samples,
          " samples do not fit 32-bit sample ids");
  std::vector<uint32_t> order(n_samples);
  std::iota(order.begin(), order.end(), uint32_t{0});
  // A fixed tag keeps this stream apart from other uses of the same seed.
  Rng rng(hash_key(seed, 0x5348554646ULL /* "SHUFF" */, epoch));
  for (uint64_t i = n_samples; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  return order;
}

uint64_t batches_per_epoch(uint64_t n_samples, uint64_t batch_size) {
  require(batch_size >= 1, "batch size must be >= 1, got ", batch_size);
  return (n_samples + batch_size - 1) / batch_size;
}

Shard global_batch(uint64_t n_samples, uint64_t batch_size, uint64_t k) {
  const uint64_t nb = batches_per_epoch(n_samples, batch_size);
  require(k < nb, "batch ", k, " out of range: the epoch has ", nb, " batches of ", batch_size);
  return {k * batch_size, std::min((k + 1) * batch_size, n_samples)};
}

std::span<const uint32_t> rank_batch(std::span<const uint32_t> order, uint64_t batch_size,
                                     uint64_t k, int rank, int size) {
  const Shard batch = global_batch(order.size(), batch_size, k);
  const Shard mine = shard_of(batch.size(), rank, size);
  return order.subspan(batch.begin + mine.begin, mine.size());
}

}  // namespace delayprop::dist
