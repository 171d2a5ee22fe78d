#pragma once
// Data-parallel sharding: one shuffle per epoch with one seed (identical on every rank),
// then each global batch is split into contiguous per-rank shards. Every sample is seen
// exactly once per epoch whatever the number of ranks (tests/dist checks it under mpirun).
#include <cstdint>
#include <span>
#include <vector>

namespace delayprop::dist {

// Half-open range [begin, end) of positions.
struct Shard {
  uint64_t begin = 0;
  uint64_t end = 0;
  uint64_t size() const { return end - begin; }
  bool empty() const { return begin == end; }
};

// Rank `rank`'s part of n items split over `size` ranks as evenly as possible: the first
// n % size ranks get one item more. A rank may get nothing (n < size).
Shard shard_of(uint64_t n, int rank, int size);

// The sample order of one epoch: a permutation of 0..n_samples-1 (Fisher-Yates driven by
// Rng keyed by (seed, epoch)). The same on every rank; different per epoch.
std::vector<uint32_t> epoch_order(uint64_t n_samples, uint64_t seed, uint32_t epoch);

// Number of batches of global size batch_size in an epoch of n_samples (the last one may
// be smaller).
uint64_t batches_per_epoch(uint64_t n_samples, uint64_t batch_size);

// Positions [begin, end) in the epoch order of global batch k (the last one may be short).
Shard global_batch(uint64_t n_samples, uint64_t batch_size, uint64_t k);

// The sample ids rank `rank` processes in global batch k: its shard of
// order[k*B, min((k+1)*B, n)). May be empty in a short last batch. Losses must still divide
// by the global size of batch k (global_batch(...).size()), not by the shard size.
std::span<const uint32_t> rank_batch(std::span<const uint32_t> order, uint64_t batch_size,
                                     uint64_t k, int rank, int size);

}  // namespace delayprop::dist
