#include "core/loss.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"

namespace delayprop {

int32_t predict(const LossSpec& spec, const double* y, const int32_t* first, uint32_t K) {
  int32_t best = 0;
  if (spec.kind == LossKind::FirstSpike) {
    // Earliest spike wins, ties to the lowest index; a silent output never beats one that spiked.
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

LossResult compute_loss(const LossSpec& spec, const ForwardOutputs& out, std::span<const int32_t> labels,
                        uint64_t global_batch, BackwardInputs& in) {
  const uint32_t B = out.n_samples, K = out.n_outputs;
  require(labels.size() == B, "loss: ", labels.size(), " labels for ", B, " samples");
  require(global_batch >= B && global_batch > 0, "loss: global batch ", global_batch, " < local ", B);
  const double invB = 1.0 / double(global_batch);
  LossResult r;
  r.prediction.resize(B);
  in.output_grad.assign(size_t(B) * K, 0.0);
  for (uint32_t b = 0; b < B; ++b) {
    const int32_t c = labels[b];
    require(c >= 0 && uint32_t(c) < K, "loss: label ", c, " of sample ", b, " is out of range [0, ", K, ")");
    const double* y = out.readout.data() + size_t(b) * K;
    const int32_t* first = out.first_spike_step.data() + size_t(b) * K;
    double* g = in.output_grad.data() + size_t(b) * K;
    r.prediction[b] = predict(spec, y, first, K);
    r.correct += r.prediction[b] == c;
    if (spec.kind == LossKind::CrossEntropy) {
      const double m = *std::max_element(y, y + K);
      double z = 0.0;
      for (uint32_t k = 0; k < K; ++k) z += std::exp(y[k] - m);
      r.loss += (std::log(z) + m - y[c]) * invB;
      for (uint32_t k = 0; k < K; ++k) g[k] = (std::exp(y[k] - m) / z - (k == uint32_t(c) ? 1.0 : 0.0)) * invB;
    } else {
      // Time-invariant first-spike loss over the outputs that spiked; no gradient when the
      // true output is silent (the weight bump of the training loop handles that case).
      if (first[c] < 0) continue;
      const double tc = y[c];
      for (uint32_t k = 0; k < K; ++k) {
        if (k == uint32_t(c) || first[k] < 0) continue;
        const double e = y[k] - tc - spec.delta_ms;
        r.loss += 0.5 * e * e * invB;
        g[k] += e * invB;
        g[c] -= e * invB;
      }
    }
  }
  return r;
}

std::vector<std::vector<double>> regulariser_kicks(const RegulariserSpec& spec, const Network& net,
                                                    const std::vector<std::vector<uint32_t>>& counts,
                                                    uint64_t global_batch) {
  std::vector<std::vector<double>> kicks(net.pops.size());
  if (!spec.enabled) return kicks;
  const double B = double(global_batch);
  const double target = spec.nu * B;
  for (uint32_t p = 0; p < net.pops.size(); ++p) {
    const auto& pop = net.pops[p];
    if (pop.kind != PopKind::LIF || p == net.output) continue;
    if (!spec.populations.empty() && std::find(spec.populations.begin(), spec.populations.end(), p) == spec.populations.end())
      continue;
    require(counts.size() > p && counts[p].size() == pop.size, "regulariser: no spike counts for '", pop.name, "'");
    kicks[p].resize(pop.size);
    for (uint32_t q = 0; q < pop.size; ++q) {
      const double diff = double(counts[p][q]) - target;
      kicks[p][q] = (diff > 0 ? spec.k_up : spec.k_low) / (B * B) * diff;
    }
  }
  return kicks;
}

}  // namespace delayprop
