#pragma once
// Losses on the readouts and the spike-count regulariser (MODEL.md §4). Everything here acts on
// this rank's samples; B is the GLOBAL batch size, so that summing over ranks gives the
// batch's loss and gradient.
#include <cstdint>
#include <span>
#include <vector>

#include "core/engine.hpp"
#include "core/model_math.hpp"
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

// Prediction alone (evaluation): argmax of the readout, or the earliest first spike (ties to
// the lowest index; a silent output never beats one that spiked). Host and device.
DP_HOST_DEVICE inline int32_t predict(LossKind kind, const double* y, const int32_t* first, uint32_t K) {
  int32_t best = 0;
  if (kind == LossKind::FirstSpike) {
    for (uint32_t k = 1; k < K; ++k) {
      const bool k_spiked = first[k] >= 0, b_spiked = first[best] >= 0;
      if (k_spiked && (!b_spiked || first[k] < first[best])) best = int32_t(k);
    }
    return best;
  }
  for (uint32_t k = 1; k < K; ++k)
    if (y[k] > y[best]) best = int32_t(k);
  return best;
}
inline int32_t predict(const LossSpec& spec, const double* y, const int32_t* first, uint32_t K) {
  return predict(spec.kind, y, first, K);
}

// One sample's loss (label c, global batch size 1 / inv_b): writes dL/dy to g[0..K) and adds
// the loss terms to `loss` one by one, in the order compute_loss sums them, so that a device
// that runs the samples in order gets the same bits. Host (compute_loss) and device (the
// CUDA backend's resident training).
DP_HOST_DEVICE inline void sample_loss(LossKind kind, double delta_ms, const double* y, const int32_t* first, uint32_t K,
                                       int32_t c, double inv_b, double* g, double& loss) {
  for (uint32_t k = 0; k < K; ++k) g[k] = 0.0;
  if (kind == LossKind::CrossEntropy) {
    double m = y[0];
    for (uint32_t k = 1; k < K; ++k)
      if (m < y[k]) m = y[k];
    double z = 0.0;
    for (uint32_t k = 0; k < K; ++k) z += ::exp(y[k] - m);
    loss += (::log(z) + m - y[c]) * inv_b;
    for (uint32_t k = 0; k < K; ++k) g[k] = (::exp(y[k] - m) / z - (k == uint32_t(c) ? 1.0 : 0.0)) * inv_b;
    return;
  }
  // Time-invariant first-spike loss over the outputs that spiked; no gradient when the true
  // output is silent (the weight bump of the training loop handles that case).
  if (first[c] < 0) return;
  const double tc = y[c];
  for (uint32_t k = 0; k < K; ++k) {
    if (k == uint32_t(c) || first[k] < 0) continue;
    const double e = y[k] - tc - delta_ms;
    loss += 0.5 * e * e * inv_b;
    g[k] += e * inv_b;
    g[c] -= e * inv_b;
  }
}

struct RegulariserSpec {
  bool enabled = false;
  double nu = 14.0;      // target spikes per neuron and trial
  double k_up = 0.0;     // in the true-gradient units of MODEL.md §3 (mlGeNN's k times tau_m)
  double k_low = 0.0;
  std::vector<uint32_t> populations;  // LIF populations it acts on (empty = every hidden LIF)
};

// One neuron's kick: (k / B^2)(n - target), k = k_up above the target, else k_low. Host and
// device.
DP_HOST_DEVICE inline double regulariser_kick(double count, double target, double k_up, double k_low, double B) {
  const double diff = count - target;
  return (diff > 0 ? k_up : k_low) / (B * B) * diff;
}

// Per-neuron kicks from the GLOBAL spike counts (summed over the batch on every rank):
// kick_q = (k / B^2)(n_q - nu B), k = k_up if n_q > nu B else k_low.
std::vector<std::vector<double>> regulariser_kicks(const RegulariserSpec& spec, const Network& net,
                                                    const std::vector<std::vector<uint32_t>>& global_counts,
                                                    uint64_t global_batch);

}  // namespace delayprop
