#pragma once
// Synthetic workloads shaped like the paper's tasks (no data files), for delayprop-bench and
// the GPU device check (docs/BENCHMARKS.md):
//   shd-ff   700 -> H -> H -> 20 LI sum-exp, 1 ms steps, 1000 steps
//   shd-rec  700 -> H recurrent -> 20 LI sum-exp, 1 ms steps, 1000 steps
//   braille  24 -> H -> H -> 27 LI sum-exp, 1 ms steps, 1900 steps (76 frames at 40 Hz)
//   yinyang  4 -> H -> 3 LIF first-spike (single spike), 0.005 ms steps, 6000 steps (30 ms)
// Input spikes are drawn uniformly over channels and steps (distinct (channel, step) cells,
// as binning does); every connection has the same max delay and delays drawn U(0, max);
// hidden activity is calibrated to a target number of spikes per neuron and sample by
// bisecting the mean of each hidden layer's feedforward input weights.
// Uses the model and engine layers only.
#include <cstdint>
#include <string>
#include <vector>

#include "core/engine.hpp"
#include "core/network.hpp"
#include "core/spikes.hpp"

namespace delayprop::bench {

struct Opts {
  std::string workload = "shd-rec";
  std::string backend = "cpu";
  Precision precision = Precision::Float32;
  uint32_t samples = 32, repeat = 3;
  int64_t input_spikes = -1, channels = -1, steps = -1, outputs = -1;
  double dt = -1, target_rate = -1;  // < 0: the workload's default
  uint64_t seed = 1;
  bool bare = false;
};

struct Shape {
  uint32_t channels, outputs, steps;
  double dt;
  uint64_t input_spikes;
  bool recurrent, first_spike;
  int hidden_layers;
};

// The workload's shape with the options' overrides; an unknown workload is a UsageError.
Shape shape_of(const Opts& o);

// The network of a workload; feedforward input weights of hidden layer l get mean w_mean[l].
Network build_net(const Shape& s, uint32_t hidden, int32_t max_delay, const std::vector<double>& w_mean);

// Uniform synthetic input: distinct (channel, step) cells per sample, sorted by step.
// Yin-Yang instead gets one spike per channel at 1.5 + 18.5 * feature ms. One random label
// per sample.
SpikeBatch make_input(const Shape& s, uint32_t n_samples, uint64_t seed, std::vector<int32_t>& labels);

// Samples [b0, b1) of a batch.
SpikeBatch slice(const SpikeBatch& all, uint32_t b0, uint32_t b1);

// Mean spikes per neuron and sample of population p.
double spikes_per_neuron(const ForwardOutputs& f, uint32_t p);

// Bisects (on a log scale) the mean input weight of each hidden layer, in order, so that the
// layer fires about `target` spikes per neuron and sample on the calibration samples `cal`.
std::vector<double> calibrate(const Shape& s, uint32_t hidden, int32_t max_delay, double target,
                              const EngineOptions& eo, const SpikeBatch& cal, uint64_t seed);

}  // namespace delayprop::bench
