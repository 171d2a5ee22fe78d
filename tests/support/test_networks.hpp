#pragma once
// Building blocks of the tests' networks, shared by the unit tests, the driver tests and
// the device check (which needs nothing but the model layer).
#include <string>

#include "core/network.hpp"

namespace delayprop::testutil {

// A config's [network] part: 2 inputs -> 3 LIF -> 2 LI (sum-exp), learnable delays; the
// config tests and the fuzz harness append their own sections.
inline constexpr const char* kSmallNetworkToml = R"([network]
dt = 0.1
duration = 20.0
[[network.population]]
name = "in"
kind = "input"
size = 2
[[network.population]]
name = "hid"
kind = "lif"
size = 3
[[network.population]]
name = "out"
kind = "li"
size = 2
readout = "sum_exp"
[[network.connection]]
name = "in_hid"
pre = "in"
post = "hid"
max_delay = 5.0
weight_init = { dist = "normal", mean = 1.5, sd = 0.3 }
delay_init = { dist = "uniform", low = 0.0, high = 4.0 }
[[network.connection]]
name = "hid_out"
pre = "hid"
post = "out"
max_delay = 5.0
weight_init = { dist = "normal", mean = 0.5, sd = 0.3 }
delay_init = { dist = "uniform", low = 0.0, high = 4.0 }
)";

inline Population make_pop(const std::string& name, PopKind kind, uint32_t size, Readout ro = Readout::None) {
  Population p;
  p.name = name;
  p.kind = kind;
  p.size = size;
  p.readout = ro;
  return p;
}

inline Connection make_conn(const Network& net, const std::string& name, const std::string& pre,
                            const std::string& post, double max_delay_ms) {
  Connection c;
  c.name = name;
  c.pre = net.find_population(pre);
  c.post = net.find_population(post);
  c.max_delay_ms = max_delay_ms;
  return c;
}

// Appends a population to net; returns its index.
inline uint32_t add_pop(Network& net, const std::string& name, PopKind kind, uint32_t size, Readout ro = Readout::None,
                 bool single = false, double tau_m = 20.0, double tau_s = 5.0) {
  Population p;
  p.name = name;
  p.kind = kind;
  p.size = size;
  p.readout = ro;
  p.single_spike = single;
  p.tau_m = tau_m;
  p.tau_s = tau_s;
  net.pops.push_back(p);
  return uint32_t(net.pops.size() - 1);
}

// Appends a connection with N(w_mean, w_sd) weights and U(0, d_max_init) delays.
inline void add_conn(Network& net, const std::string& name, uint32_t pre, uint32_t post, double max_delay, double w_mean,
              double w_sd, double d_max_init) {
  Connection c;
  c.name = name;
  c.pre = pre;
  c.post = post;
  c.max_delay_ms = max_delay;
  c.weight_init = {InitSpec::Dist::Normal, w_mean, w_sd};
  c.delay_init = {InitSpec::Dist::Uniform, 0.0, d_max_init};
  net.conns.push_back(c);
}

// The smallest valid network, for tests that need one only for its shape (input channels,
// classes, dt, trial length): inputs -> one output population, one connection.
inline Network input_output_net(uint32_t inputs, uint32_t classes, double dt, uint32_t steps,
                                PopKind out_kind = PopKind::LI, Readout readout = Readout::SumExp) {
  Network net;
  net.dt = dt;
  net.n_steps = steps;
  Population in{"in", PopKind::Input, inputs};
  Population out{"out", out_kind, classes};
  out.readout = readout;
  net.pops = {in, out};
  Connection c;
  c.name = "c";
  c.pre = 0;
  c.post = 1;
  net.conns = {c};
  net.finalize();
  return net;
}

}  // namespace delayprop::testutil
