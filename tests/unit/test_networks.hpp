#pragma once
// The smallest valid network, for tests that need one only for its shape (input channels,
// classes, dt, trial length): inputs -> one output population, one connection.
#include "core/network.hpp"

namespace delayprop::testutil {

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
