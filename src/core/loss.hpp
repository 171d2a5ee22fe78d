#pragma once
// Losses on the readouts and the spike-count regulariser (MODEL.md §4). Everything here acts on
// this rank's samples; B is the GLOBAL batch size, so that summing over ranks gives the
// batch's loss and gradient.
#include <cstdint>
#include <span>
#include <vector>

#include "core/engine.hpp"
#include "core/network.hpp"

namespace delayprop {

enum class LossKind { CrossEntropy, FirstSpike };

struct LossSpec {
  LossKind kind = LossKind::CrossEntropy;
  double delta_ms = 2.0;  // first-spike loss margin
};

struct LossResult {
  double loss = 0.0;     // sum over this rank's samples, already divided by B
  uint32_t correct = 0;  // correctly predicted samples
  std::vector<int32_t> prediction;
};

// Fills in.output_grad from the forward outputs and labels; returns loss and accuracy.
LossResult compute_loss(const LossSpec& spec, const ForwardOutputs& out, std::span<const int32_t> labels,
                        uint64_t global_batch, BackwardInputs& in);

// Prediction alone (evaluation): argmax of the readout, or the earliest first spike.
int32_t predict(const LossSpec& spec, const double* readout, const int32_t* first_step, uint32_t k);

struct RegulariserSpec {
  bool enabled = false;
  double nu = 14.0;      // target spikes per neuron and trial
  double k_up = 0.0;     // in the true-gradient units of MODEL.md §3 (mlGeNN's k times tau_m)
  double k_low = 0.0;
  std::vector<uint32_t> populations;  // LIF populations it acts on (empty = every hidden LIF)
};

// Per-neuron kicks from the GLOBAL spike counts (summed over the batch on every rank):
// kick_q = (k / B^2)(n_q - nu B), k = k_up if n_q > nu B else k_low.
std::vector<std::vector<double>> regulariser_kicks(const RegulariserSpec& spec, const Network& net,
                                                    const std::vector<std::vector<uint32_t>>& global_counts,
                                                    uint64_t global_batch);

}  // namespace delayprop
