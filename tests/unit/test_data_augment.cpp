// Augmentation: shift and blend follow MODEL.md §6 and are reproducible regardless of threads.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <numeric>
#include <set>

#include "io/data/augment.hpp"

using namespace delayprop;

namespace {

EventDataset toy(size_t n, uint32_t channels = 50) {
  EventDataset d;
  d.n_channels = channels;
  d.n_classes = 3;
  Rng rng(99);
  for (size_t i = 0; i < n; ++i) {
    EventSample s;
    const size_t m = 20 + rng.below(30);
    for (size_t e = 0; e < m; ++e) {
      s.times_ms.push_back(double(e) * 3.0 + rng.uniform());
      s.units.push_back(uint32_t(rng.below(channels)));
    }
    s.label = int32_t(i % 3);
    d.samples.push_back(s);
  }
  return d;
}

bool same(const EventDataset& a, const EventDataset& b) {
  if (a.samples.size() != b.samples.size()) return false;
  for (size_t i = 0; i < a.samples.size(); ++i)
    if (a.samples[i].times_ms != b.samples[i].times_ms || a.samples[i].units != b.samples[i].units ||
        a.samples[i].label != b.samples[i].label)
      return false;
  return true;
}

}  // namespace

TEST(DataAugment, ShiftMovesEveryChannelByOneOffset) {
  EventSample s;
  s.times_ms = {1, 2, 3, 4};
  s.units = {0, 5, 9, 3};
  EXPECT_EQ(shift_channels(s, 2, 10), 1u);
  EXPECT_EQ(s.units, (std::vector<uint32_t>{2, 7, 5}));
  EXPECT_EQ(s.times_ms, (std::vector<double>{1, 2, 4}));
  EXPECT_EQ(shift_channels(s, -3, 10), 1u);
  EXPECT_EQ(s.units, (std::vector<uint32_t>{4, 2}));

  const EventDataset d = toy(60);
  AugmentStats st;
  const EventDataset e = augment_epoch(d, 5, 0, 1, 0, &st);
  ASSERT_EQ(e.samples.size(), 60u);
  std::set<int64_t> offsets;
  uint64_t dropped = 0;
  for (size_t i = 0; i < 60; ++i) {
    const auto& a = d.samples[i];
    const auto& b = e.samples[i];
    EXPECT_EQ(b.label, a.label);
    // The offset: the difference of the first surviving event and its source.
    size_t k = 0;
    int64_t off = 0;
    bool found = false;
    for (size_t j = 0; j < a.units.size(); ++j) {
      if (k < b.units.size() && b.times_ms[k] == a.times_ms[j]) {
        const int64_t o = int64_t(b.units[k]) - int64_t(a.units[j]);
        if (found) {
          EXPECT_EQ(o, off);
        }
        off = o;
        found = true;
        ++k;
      } else {
        const int64_t lo = found ? off : -5, hi = found ? off : 4;
        EXPECT_TRUE(int64_t(a.units[j]) + hi >= 50 || int64_t(a.units[j]) + lo < 0);
        ++dropped;
      }
    }
    EXPECT_EQ(k, b.units.size());
    ASSERT_TRUE(found);
    EXPECT_GE(off, -5);
    EXPECT_LT(off, 5);
    offsets.insert(off);
  }
  EXPECT_GT(offsets.size(), 5u);  // the offsets vary across examples
  EXPECT_EQ(st.dropped_shift, dropped);
}

TEST(DataAugment, BlendMeetsAtTheCentreAndKeepsHalf) {
  EventSample a, b;
  for (int e = 0; e < 4000; ++e) {
    a.times_ms.push_back(100.0 + e * 0.01);
    a.units.push_back(100 + uint32_t(e % 11));  // mean channel 105 (almost)
    b.times_ms.push_back(300.0 + e * 0.01);
    b.units.push_back(300 + uint32_t(e % 11));
  }
  a.label = b.label = 4;
  Rng rng(5);
  uint64_t dropped = 0;
  const EventSample c = blend_samples(a, b, 700, rng, &dropped);
  EXPECT_EQ(dropped, 0u);
  EXPECT_EQ(c.label, 4);
  EXPECT_GT(c.times_ms.size(), 3700u);  // about half of 8000
  EXPECT_LT(c.times_ms.size(), 4300u);
  EXPECT_TRUE(std::is_sorted(c.times_ms.begin(), c.times_ms.end()));
  // Both moved to the midpoint: channels around 205, times around 220 ms.
  double mc = 0, mt = 0;
  for (size_t e = 0; e < c.units.size(); ++e) {
    mc += c.units[e];
    mt += c.times_ms[e];
    EXPECT_GE(c.units[e], 200u);
    EXPECT_LE(c.units[e], 210u);
  }
  EXPECT_NEAR(mc / double(c.units.size()), 205.0, 0.5);
  EXPECT_NEAR(mt / double(c.units.size()), 220.0, 1.0);

  // Events pushed below channel 0 are dropped and counted.
  EventSample lo = a, hi = a;
  for (auto& u : lo.units) u -= 100;  // 0..10
  for (auto& u : hi.units) u += 500;  // 600..610: lo moves up 300, hi down 300
  uint64_t d2 = 0;
  Rng rng2(6);
  const EventSample c2 = blend_samples(lo, hi, 320, rng2, &d2);  // 300..310 fits, none dropped...
  EXPECT_EQ(d2, 0u);
  uint64_t d3 = 0;
  Rng rng3(6);
  blend_samples(lo, hi, 305, rng3, &d3);  // ... but with 305 channels some are
  EXPECT_GT(d3, 0u);
  EXPECT_FALSE(c2.units.empty());
}

TEST(DataAugment, EpochIsDeterministicAndIndependentOfThreads) {
  const EventDataset d = toy(200);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  AugmentStats s1;
  const EventDataset one = augment_epoch(d, 4, 50, 11, 3, &s1);
  omp_set_num_threads(4);
  AugmentStats s4;
  const EventDataset four = augment_epoch(d, 4, 50, 11, 3, &s4);
  omp_set_num_threads(saved);
  ASSERT_EQ(one.samples.size(), 250u);
  EXPECT_TRUE(same(one, four));
  EXPECT_EQ(s1.dropped_shift, s4.dropped_shift);
  EXPECT_EQ(s1.dropped_blend, s4.dropped_blend);
  EXPECT_EQ(s1.blended, 50u);
  EXPECT_FALSE(same(one, augment_epoch(d, 4, 50, 11, 4)));   // another epoch
  EXPECT_FALSE(same(one, augment_epoch(d, 4, 50, 12, 3)));   // another seed
  // Blended examples carry the label of their sources, which share a class.
  for (size_t i = 200; i < 250; ++i) EXPECT_TRUE(one.samples[i].label >= 0 && one.samples[i].label < 3);
  // No augmentation: a copy.
  EXPECT_TRUE(same(d, augment_epoch(d, 0, 0, 11, 3)));
}
