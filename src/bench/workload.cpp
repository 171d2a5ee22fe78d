#include "bench/workload.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "kernels/factory.hpp"

namespace delayprop::bench {

Shape shape_of(const Opts& o) {
  Shape s{};
  if (o.workload == "shd-ff" || o.workload == "shd-rec") {
    s = {700, 20, 1000, 1.0, 10000, o.workload == "shd-rec", false, o.workload == "shd-rec" ? 1 : 2};
  } else if (o.workload == "braille") {
    s = {24, 27, 1900, 1.0, 300, false, false, 2};  // ~311 events at threshold 1 (docs/BENCHMARKS.md)
  } else if (o.workload == "yinyang") {
    s = {4, 3, 6000, 0.005, 4, false, true, 1};
  } else {
    throw UsageError("unknown --workload '" + o.workload + "' (shd-ff, shd-rec, braille, yinyang)");
  }
  if (o.channels > 0) s.channels = uint32_t(o.channels);
  if (o.outputs > 0) s.outputs = uint32_t(o.outputs);
  if (o.steps > 0) s.steps = uint32_t(o.steps);
  if (o.dt > 0) s.dt = o.dt;
  if (o.input_spikes >= 0) s.input_spikes = uint64_t(o.input_spikes);
  return s;
}

namespace {
InitSpec normal(double m, double sd) { return {InitSpec::Dist::Normal, m, sd}; }
}  // namespace

Network build_net(const Shape& s, uint32_t hidden, int32_t max_delay, const std::vector<double>& w_mean) {
  Network net;
  net.dt = s.dt;
  net.n_steps = s.steps;
  net.pops.push_back({"in", PopKind::Input, s.channels});
  const std::vector<std::string> hname = {"h1", "h2", "h3", "h4"};
  for (int l = 0; l < s.hidden_layers; ++l) net.pops.push_back({hname.at(l), PopKind::LIF, hidden});
  Population out{"out", s.first_spike ? PopKind::LIF : PopKind::LI, s.outputs};
  out.readout = s.first_spike ? Readout::FirstSpike : Readout::SumExp;
  out.single_spike = s.first_spike;
  net.pops.push_back(out);
  const double dmax = max_delay * s.dt;
  const InitSpec delays{InitSpec::Dist::Uniform, 0.0, dmax};
  auto add = [&](const std::string& name, uint32_t pre, uint32_t post, InitSpec w) {
    Connection c;
    c.name = name;
    c.pre = pre;
    c.post = post;
    c.max_delay_ms = dmax;
    c.weight_init = w;
    c.delay_init = delays;
    net.conns.push_back(c);
  };
  for (int l = 0; l < s.hidden_layers; ++l) {
    const double m = w_mean[l];
    add("w_" + hname.at(l), uint32_t(l), uint32_t(l + 1), normal(m, m / 3));
    if (s.recurrent) add("rec_" + hname.at(l), uint32_t(l + 1), uint32_t(l + 1), normal(0.0, 0.02));
  }
  const uint32_t last = uint32_t(s.hidden_layers);
  add("wout", last, last + 1, s.first_spike ? normal(1.0, 1.0) : normal(0.0, 0.03));
  net.finalize();
  return net;
}

SpikeBatch make_input(const Shape& s, uint32_t n_samples, uint64_t seed, std::vector<int32_t>& labels) {
  SpikeBatch batch;
  Rng rng(hash_key(seed, 77));
  labels.clear();
  for (uint32_t b = 0; b < n_samples; ++b) {
    std::vector<double> t;
    std::vector<uint32_t> ch;
    if (s.first_spike) {
      for (uint32_t c = 0; c < s.channels; ++c) {
        t.push_back(1.5 + 18.5 * rng.uniform());
        ch.push_back(c);
      }
    } else {
      const uint64_t cells = uint64_t(s.channels) * s.steps;
      const uint64_t n = std::min<uint64_t>(s.input_spikes, cells);
      std::vector<uint64_t> pick;
      pick.reserve(n * 2);
      while (pick.size() < n) {
        for (uint64_t k = pick.size(); k < n; ++k) pick.push_back(rng.below(cells));
        std::sort(pick.begin(), pick.end());
        pick.erase(std::unique(pick.begin(), pick.end()), pick.end());
      }
      for (uint64_t cell : pick) {  // cell = step * channels + channel: sorted by step
        t.push_back((double(cell / s.channels) + 0.5) * s.dt);
        ch.push_back(uint32_t(cell % s.channels));
      }
    }
    batch.add_sample(t, ch, s.dt);
    labels.push_back(int32_t(rng.below(s.outputs)));
  }
  return batch;
}

SpikeBatch slice(const SpikeBatch& all, uint32_t b0, uint32_t b1) {
  SpikeBatch out;
  out.n_samples = b1 - b0;
  const uint64_t e0 = all.offsets[b0], e1 = all.offsets[b1];
  out.steps.assign(all.steps.begin() + e0, all.steps.begin() + e1);
  out.channels.assign(all.channels.begin() + e0, all.channels.begin() + e1);
  out.offsets.clear();
  for (uint32_t b = b0; b <= b1; ++b) out.offsets.push_back(all.offsets[b] - e0);
  return out;
}

double spikes_per_neuron(const ForwardOutputs& f, uint32_t p) {
  const auto& c = f.spike_counts[p];
  return double(std::accumulate(c.begin(), c.end(), uint64_t(0))) / (double(c.size()) * f.n_samples);
}

std::vector<double> calibrate(const Shape& s, uint32_t hidden, int32_t max_delay, double target,
                              const EngineOptions& eo, const SpikeBatch& cal, uint64_t seed) {
  std::vector<double> w_mean(s.hidden_layers, s.first_spike ? 1.0 : 0.03);
  if (target == 0) return w_mean;
  for (int l = 0; l < s.hidden_layers; ++l) {
    double lo = std::log(1e-4), hi = std::log(10.0);
    for (int it = 0; it < 14; ++it) {
      const double mid = 0.5 * (lo + hi);
      w_mean[l] = std::exp(mid);
      Network net = build_net(s, hidden, max_delay, w_mean);
      auto eng = make_engine(net, eo);
      ForwardOutputs f;
      eng->forward(init_params(net, seed), cal, f);
      if (spikes_per_neuron(f, uint32_t(l + 1)) > target) hi = mid;
      else lo = mid;
    }
    w_mean[l] = std::exp(0.5 * (lo + hi));
  }
  return w_mean;
}

}  // namespace delayprop::bench
