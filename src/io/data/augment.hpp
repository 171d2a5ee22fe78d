#pragma once
// Training-set augmentation (MODEL.md §6): random channel shift and blending of two examples of
// one class. Every random draw is keyed by (seed, epoch, example), so an epoch's examples do
// not depend on threads, ranks or the order they are built in.
#include <cstdint>

#include "io/data/events.hpp"
#include "core/rng.hpp"

namespace delayprop {

struct AugmentStats {
  uint64_t dropped_shift = 0;  // events moved outside [0, n_channels) by the shift
  uint64_t dropped_blend = 0;  // events of blended examples moved outside the channels or before 0 ms
  uint64_t blended = 0;        // blended examples made
};

// Adds `offset` to every channel of `s`, dropping events that leave [0, n_channels).
// Returns the number of events dropped.
uint64_t shift_channels(EventSample& s, int64_t offset, uint32_t n_channels);

// Blends a and b (MODEL.md §6): each moves by half the difference of their mean channel (rounded
// to an integer, half away from zero) and of their mean time, so that their centres meet;
// each event is kept with p = 0.5; the result is merged in time order and carries a's label.
// Events moved outside [0, n_channels) or before 0 ms are dropped and counted in *dropped.
EventSample blend_samples(const EventSample& a, const EventSample& b, uint32_t n_channels, Rng& rng,
                          uint64_t* dropped = nullptr);

// The training examples of one epoch: the samples of `train` in order, then `blend` blended
// examples (two distinct random examples of the class of a random training example); then, if
// shift > 0, every example's channels move by one integer drawn from [-shift, shift).
// Example i draws from Rng(hash_key(seed, epoch, i, tag)). With shift == 0 and blend == 0 this is
// a copy of `train`: use `train` itself instead.
EventDataset augment_epoch(const EventDataset& train, int32_t shift, uint32_t blend, uint64_t seed, uint64_t epoch,
                           AugmentStats* stats = nullptr);

}  // namespace delayprop
