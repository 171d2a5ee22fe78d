#include "core/network.hpp"

#include <cmath>
#include <set>

#include "core/error.hpp"
#include "core/model_math.hpp"
#include "core/rng.hpp"

namespace delayprop {

const char* to_string(PopKind k) {
  switch (k) {
    case PopKind::Input: return "input";
    case PopKind::LIF: return "lif";
    case PopKind::LI: return "li";
  }
  return "?";
}

const char* to_string(Readout r) {
  switch (r) {
    case Readout::None: return "none";
    case Readout::SumExp: return "sum_exp";
    case Readout::Average: return "average";
    case Readout::Max: return "max";
    case Readout::FirstSpike: return "first_spike";
  }
  return "?";
}

uint32_t Network::find_population(const std::string& name) const {
  for (uint32_t p = 0; p < pops.size(); ++p)
    if (pops[p].name == name) return p;
  fail("unknown population '", name, "'");
}

int32_t Network::max_incoming_delay_steps(uint32_t p) const {
  int32_t m = 0;
  for (const auto& c : conns)
    if (c.post == p && c.max_delay_steps > m) m = c.max_delay_steps;
  return m;
}

void Network::finalize() {
  require(dt > 0 && std::isfinite(dt), "network.dt must be a positive number of ms, got ", dt);
  require(n_steps > 0, "network: the trial must have at least one step (steps = ", n_steps, ")");
  require(!pops.empty(), "network: no populations");
  std::set<std::string> names;
  int n_outputs = 0;
  n_input_channels = 0;
  input_channel_offset.assign(pops.size(), 0);
  for (uint32_t p = 0; p < pops.size(); ++p) {
    const auto& pop = pops[p];
    require(!pop.name.empty(), "population ", p, ": empty name");
    require(names.insert(pop.name).second, "population '", pop.name, "' is declared twice");
    require(pop.size > 0, "population '", pop.name, "': size must be positive (empty population)");
    if (pop.kind == PopKind::Input) {
      input_channel_offset[p] = n_input_channels;
      n_input_channels += pop.size;
      require(pop.readout == Readout::None, "population '", pop.name, "': an input has no readout");
      continue;
    }
    require(pop.tau_m > 0 && pop.tau_s > 0 && std::isfinite(pop.tau_m) && std::isfinite(pop.tau_s),
            "population '", pop.name, "': tau_m and tau_s must be positive");
    require(std::fabs(pop.tau_m - pop.tau_s) > 1e-9 * pop.tau_m, "population '", pop.name,
            "': tau_m must differ from tau_s (the adjoint step divides by their difference)");
    require(std::isfinite(pop.theta) && pop.theta > 0, "population '", pop.name, "': theta must be positive");
    if (pop.readout != Readout::None) {
      ++n_outputs;
      output = p;
      if (pop.kind == PopKind::LI)
        require(pop.readout != Readout::FirstSpike, "population '", pop.name,
                "': first_spike readout needs a LIF population");
      else
        require(pop.readout == Readout::FirstSpike, "population '", pop.name, "': a LIF output is read by first_spike; ",
                to_string(pop.readout), " needs an LI population");
    }
    if (pop.kind == PopKind::LI) require(!pop.single_spike, "population '", pop.name, "': single_spike needs LIF");
  }
  require(n_outputs == 1, "network: exactly one population must have a readout, found ", n_outputs);
  require(n_input_channels > 0, "network: no input population");

  size_t offset = 0;
  std::set<std::string> cnames;
  for (auto& c : conns) {
    require(!c.name.empty(), "connection with empty name");
    require(cnames.insert(c.name).second, "connection '", c.name, "' is declared twice");
    require(c.pre < pops.size() && c.post < pops.size(), "connection '", c.name, "': bad population index");
    require(pops[c.post].kind != PopKind::Input, "connection '", c.name, "': cannot target input population '",
            pops[c.post].name, "'");
    require(pops[c.pre].kind != PopKind::LI, "connection '", c.name, "': LI population '", pops[c.pre].name,
            "' never spikes and cannot be presynaptic");
    require(std::isfinite(c.max_delay_ms) && c.max_delay_ms >= 0, "connection '", c.name,
            "': max_delay must be >= 0 ms, got ", c.max_delay_ms);
    if (c.pre == c.post) c.recurrent = true;
    const double smax = std::round(c.max_delay_ms / dt);
    require(smax < 1e7, "connection '", c.name, "': max_delay of ", c.max_delay_ms, " ms is too many steps");
    c.max_delay_steps = int32_t(smax);
    c.n_pre = pops[c.pre].size;
    c.n_post = pops[c.post].size;
    for (const InitSpec* init : {&c.weight_init, &c.delay_init})
      if (init->dist == InitSpec::Dist::Values)
        require(init->values.size() == c.n_synapses(), "connection '", c.name, "': ",
                init == &c.weight_init ? "weight_init" : "delay_init", " has ", init->values.size(),
                " values, expected n_pre x n_post = ", c.n_synapses());
    c.weight_offset = offset;
    offset += c.n_synapses();
    c.delay_offset = offset;
    offset += c.n_synapses();
  }
  n_params = offset;
}

namespace {
double draw(const InitSpec& s, uint64_t key, size_t index) {
  switch (s.dist) {
    case InitSpec::Dist::Values: return s.values[index];
    case InitSpec::Dist::Constant: return s.a;
    case InitSpec::Dist::Normal: return s.a + s.b * normal01(key);
    case InitSpec::Dist::Uniform: return s.a + (s.b - s.a) * uniform01(key);
  }
  return 0.0;
}
}  // namespace

std::vector<double> init_params(const Network& net, uint64_t seed) {
  std::vector<double> p(net.n_params);
  for (size_t ci = 0; ci < net.conns.size(); ++ci) {
    const auto& c = net.conns[ci];
    for (size_t k = 0; k < c.n_synapses(); ++k) {
      p[c.weight_offset + k] = draw(c.weight_init, hash_key(seed, 2 * ci, k), k);
      p[c.delay_offset + k] = draw(c.delay_init, hash_key(seed, 2 * ci + 1, k), k);
    }
  }
  clamp_delays(net, p);
  return p;
}

void check_params(const Network& net, std::span<const double> params) {
  require(params.size() == net.n_params, "parameters: expected ", net.n_params, " values, got ", params.size());
  for (const auto& c : net.conns) {
    for (size_t k = 0; k < c.n_synapses(); ++k) {
      const double w = params[c.weight_offset + k];
      if (!std::isfinite(w))
        fail("connection '", c.name, "': weight [", k / c.n_post, ",", k % c.n_post, "] is ", w);
      const double d = params[c.delay_offset + k];
      if (!std::isfinite(d) || d < 0)
        fail("connection '", c.name, "': delay [", k / c.n_post, ",", k % c.n_post, "] is ", d,
             " ms (delays must be finite and >= 0)");
    }
  }
}

void clamp_delays(const Network& net, std::span<double> params) {
  for (const auto& c : net.conns) {
    for (size_t k = 0; k < c.n_synapses(); ++k) {
      double& d = params[c.delay_offset + k];
      d = clamp_delay(d, c.max_delay_ms);
    }
  }
}

}  // namespace delayprop
