#include "kernels/common.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"

namespace delayprop {

void check_backward_inputs(const Network& net, uint32_t n_samples, const BackwardInputs& in) {
  const size_t K = net.pops[net.output].size;
  require(in.output_grad.size() == size_t(n_samples) * K, "backward: output_grad has ", in.output_grad.size(),
          " values, expected ", size_t(n_samples) * K);
  require(in.spike_kick.empty() || in.spike_kick.size() == net.pops.size(),
          "backward: spike_kick must have one entry per population");
  for (size_t p = 0; p < in.spike_kick.size(); ++p)
    require(in.spike_kick[p].empty() || in.spike_kick[p].size() == net.pops[p].size,
            "backward: spike_kick of population '", net.pops[p].name, "' has the wrong size");
}

template <typename Real>
SumExpTables<Real> make_sumexp_tables(const Network& net) {
  SumExpTables<Real> t;
  const double T = net.trial_ms();
  t.weight.resize(net.n_steps);
  t.density.resize(net.n_steps);
  for (uint32_t n = 0; n < net.n_steps; ++n) {
    const double e = std::exp(-(n * net.dt) / T);
    t.weight[n] = Real(e / net.n_steps);
    t.density[n] = Real(e / T);
  }
  return t;
}
template SumExpTables<float> make_sumexp_tables<float>(const Network&);
template SumExpTables<double> make_sumexp_tables<double>(const Network&);

std::vector<InputNeuron> input_channel_map(const Network& net) {
  std::vector<InputNeuron> map(net.n_input_channels);
  for (uint32_t p = 0; p < net.pops.size(); ++p)
    if (net.pops[p].kind == PopKind::Input)
      for (uint32_t i = 0; i < net.pops[p].size; ++i) map[net.input_channel_offset[p] + i] = {p, i};
  return map;
}

void zero_frozen_gradients(const Network& net, ExactVector& grad) {
  for (const auto& c : net.conns) {
    if (!c.learn_weights) grad.zero(c.weight_offset, c.n_synapses());
    if (!c.learn_delays) grad.zero(c.delay_offset, c.n_synapses());
  }
}

bool fold_sample_gradients(std::span<double> sample_grads, uint32_t n_samples, ExactVector& sum) {
  return fold_sample_gradients(sample_grads.data(), n_samples, sum.size(), sum.digits().data());
}

bool fold_sample_gradients(double* sample_grads, uint32_t n_samples, size_t P, int64_t* digits) {
  bool ok = true;
  for (size_t i = 0; i < P; ++i) {
    int64_t* d = digits + i * ExactSum::kDigits;
    for (uint32_t s = 0; s < n_samples; ++s) {
      double& v = sample_grads[size_t(s) * P + i];
      if (v == 0.0) continue;  // many parameters get nothing from a sample
      ok &= exact_add(d, v);
      v = 0.0;
    }
  }
  return ok;
}

}  // namespace delayprop
