#pragma once
// Datasets generated in code: the sequence-detection task, the delay-order task and Yin-Yang
// (MODEL.md §6, §8).
#include <cstdint>
#include <vector>

#include "io/data/events.hpp"

namespace delayprop {

// Sequence detection (MODEL.md §6): `n` examples alternating A, B, A, ... Class A (label 0):
// channel 0 at 0 ms, channel 1 at 10 ms; class B (label 1): channel 1 at 0 ms, channel 0 at
// 10 ms. Two channels, two classes, every event its own spike.
EventDataset make_sequence_dataset(uint32_t n = 2);

// Delay order: a pair of spikes, one per channel, 30 +- 1.5 ms apart from an onset uniform
// in [0, 20) ms, plus one distractor spike per channel uniform in [0, 60) ms; label 0 when
// the pair starts with channel 0, 1 when it starts with channel 1 (labels alternate). With
// short time constants two spikes 30 ms apart never meet in a neuron without delays, so the
// order is only visible to a neuron whose synapse delays bring the pair together.
EventDataset make_delay_order_dataset(uint64_t seed, uint32_t n);

// One Yin-Yang split exactly as the published generator (Kriener et al. 2021) draws it under
// numpy's legacy Mersenne Twister: samples (x, y, 1-x, 1-y) row-major and labels 0..2.
// seed 42 / 41 / 40 with 5000 / 1000 / 1000 samples give the published train / validation /
// test splits bit for bit. Compiled without FP contraction (yinyang.cpp).
struct YinYangSplit {
  std::vector<double> samples;  // n x 4
  std::vector<int64_t> labels;  // n
};
YinYangSplit generate_yinyang(uint32_t seed, uint32_t n, double r_small = 0.1, double r_big = 0.5);

// Spike encoding of Yin-Yang: feature f of channel k fires once at 1.5 + 18.5 f ms; 4 channels,
// no bias input, 3 classes.
EventDataset yinyang_events(const YinYangSplit& split);

}  // namespace delayprop
