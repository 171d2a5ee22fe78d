#include "io/data/augment.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.hpp"

namespace delayprop {
namespace {

constexpr uint64_t kTagBlend = 0xb1e4dULL;
constexpr uint64_t kTagShift = 0x5a1f7ULL;

void mean_channel_time(const EventSample& s, double& mc, double& mt) {
  mc = mt = 0.0;
  if (s.units.empty()) return;
  for (size_t e = 0; e < s.units.size(); ++e) {
    mc += s.units[e];
    mt += s.times_ms[e];
  }
  mc /= double(s.units.size());
  mt /= double(s.units.size());
}

// Events of s kept with p = 0.5 and moved by (dc, dt), in time order.
void thin_and_move(const EventSample& s, int64_t dc, double dt, uint32_t n_channels, Rng& rng, EventSample& out,
                   uint64_t& dropped) {
  const size_t n = s.times_ms.size();
  // Published files are time-ordered: sort only when needed.
  std::vector<uint32_t> order;
  if (!std::is_sorted(s.times_ms.begin(), s.times_ms.end())) {
    order.resize(n);
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return s.times_ms[a] < s.times_ms[b]; });
  }
  out.times_ms.reserve(n / 2 + 16);
  out.units.reserve(n / 2 + 16);
  for (size_t k = 0; k < n; ++k) {
    if (rng.uniform() >= 0.5) continue;  // one draw per event, kept or not, so the stream is fixed
    const size_t e = order.empty() ? k : order[k];
    const int64_t c = int64_t(s.units[e]) + dc;
    const double t = s.times_ms[e] + dt;
    if (c < 0 || c >= int64_t(n_channels) || t < 0.0) {
      ++dropped;
      continue;
    }
    out.times_ms.push_back(t);
    out.units.push_back(uint32_t(c));
  }
}

}  // namespace

uint64_t shift_channels(EventSample& s, int64_t offset, uint32_t n_channels) {
  require(s.times_ms.size() == s.units.size(), "shift_channels: ", s.times_ms.size(), " times but ", s.units.size(),
          " units");
  size_t w = 0;
  for (size_t e = 0; e < s.units.size(); ++e) {
    const int64_t c = int64_t(s.units[e]) + offset;
    if (c < 0 || c >= int64_t(n_channels)) continue;
    s.units[w] = uint32_t(c);
    s.times_ms[w] = s.times_ms[e];
    ++w;
  }
  const uint64_t dropped = s.units.size() - w;
  s.units.resize(w);
  s.times_ms.resize(w);
  return dropped;
}

EventSample blend_samples(const EventSample& a, const EventSample& b, uint32_t n_channels, Rng& rng,
                          uint64_t* dropped) {
  double mca, mta, mcb, mtb;
  mean_channel_time(a, mca, mta);
  mean_channel_time(b, mcb, mtb);
  const int64_t dc = std::lround((mcb - mca) / 2.0);  // a moves by +dc, b by -dc
  const double dt = (mtb - mta) / 2.0;
  EventSample pa, pb;
  uint64_t lost = 0;
  thin_and_move(a, dc, dt, n_channels, rng, pa, lost);
  thin_and_move(b, -dc, -dt, n_channels, rng, pb, lost);
  if (dropped) *dropped += lost;
  EventSample out;
  out.label = a.label;
  out.speaker = -1;
  out.times_ms.reserve(pa.times_ms.size() + pb.times_ms.size());
  out.units.reserve(out.times_ms.capacity());
  size_t i = 0, j = 0;
  while (i < pa.times_ms.size() || j < pb.times_ms.size()) {
    const bool take_a = j == pb.times_ms.size() || (i < pa.times_ms.size() && pa.times_ms[i] <= pb.times_ms[j]);
    const EventSample& src = take_a ? pa : pb;
    size_t& k = take_a ? i : j;
    out.times_ms.push_back(src.times_ms[k]);
    out.units.push_back(src.units[k]);
    ++k;
  }
  return out;
}

EventDataset augment_epoch(const EventDataset& train, int32_t shift, uint32_t blend, uint64_t seed, uint64_t epoch,
                           AugmentStats* stats) {
  require(shift >= 0, "augmentation: shift must be >= 0, got ", shift);
  const size_t n = train.samples.size();
  EventDataset out;
  out.n_channels = train.n_channels;
  out.n_classes = train.n_classes;
  out.merge_duplicates = train.merge_duplicates;
  out.sum_channels = train.sum_channels;
  out.input_copies = train.input_copies;
  out.source = train.source + " (augmented)";
  out.time_unit = train.time_unit;
  out.samples.resize(n + blend);
  // Checked here: nothing may throw inside the parallel loop below.
  for (size_t i = 0; i < n; ++i)
    require(train.samples[i].times_ms.size() == train.samples[i].units.size(), "augmentation: sample ", i, " has ",
            train.samples[i].times_ms.size(), " times but ", train.samples[i].units.size(), " units");

  // Examples of each class, for picking a blending partner.
  std::vector<std::vector<uint32_t>> by_class;
  if (blend > 0) {
    require(n > 0, "augmentation: cannot blend an empty training set");
    for (size_t i = 0; i < n; ++i) {
      const size_t c = size_t(std::max(0, train.samples[i].label));
      if (c >= by_class.size()) by_class.resize(c + 1);
      by_class[c].push_back(uint32_t(i));
    }
  }

  uint64_t dropped_shift = 0, dropped_blend = 0;
#pragma omp parallel for schedule(dynamic, 64) reduction(+ : dropped_shift, dropped_blend)
  for (size_t i = 0; i < n + blend; ++i) {
    EventSample& s = out.samples[i];
    if (i < n) {
      s = train.samples[i];
    } else {
      Rng rng(hash_key(seed, epoch, i, kTagBlend));
      const uint32_t first = uint32_t(rng.below(n));
      const auto& same = by_class[size_t(std::max(0, train.samples[first].label))];
      uint32_t second = first;
      if (same.size() > 1)
        do second = same[rng.below(same.size())];
        while (second == first);
      s = blend_samples(train.samples[first], train.samples[second], train.n_channels, rng, &dropped_blend);
    }
    if (shift > 0) {
      Rng rng(hash_key(seed, epoch, i, kTagShift));
      const int64_t offset = int64_t(rng.below(uint64_t(2) * uint64_t(shift))) - shift;
      dropped_shift += shift_channels(s, offset, train.n_channels);
    }
  }
  if (stats) {
    stats->dropped_shift += dropped_shift;
    stats->dropped_blend += dropped_blend;
    stats->blended += blend;
  }
  return out;
}

}  // namespace delayprop
