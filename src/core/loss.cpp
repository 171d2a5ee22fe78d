#include "core/loss.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"

namespace delayprop {

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
    r.prediction[b] = predict(spec, y, first, K);
    r.correct += r.prediction[b] == c;
    sample_loss(spec.kind, spec.delta_ms, y, first, K, c, invB, in.output_grad.data() + size_t(b) * K, r.loss);
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
      kicks[p][q] = regulariser_kick(double(counts[p][q]), target, spec.k_up, spec.k_low, B);
    }
  }
  return kicks;
}

}  // namespace delayprop
