// Uses an installed delayprop: builds a network, runs one forward and backward pass on the
// CPU backend, and prints the loss and the gradient's size with the library's version.
#include <cmath>
#include <cstdio>
#include <vector>

#include "core/loss.hpp"
#include "core/network.hpp"
#include "core/spikes.hpp"
#include "io/version.hpp"
#include "kernels/factory.hpp"

using namespace delayprop;

int main() {
  Network net;
  net.dt = 0.1;
  net.n_steps = 300;
  Population in{"in", PopKind::Input, 2}, hid{"hid", PopKind::LIF, 8}, out{"out", PopKind::LI, 2};
  out.readout = Readout::SumExp;
  net.pops = {in, hid, out};
  Connection a, b;
  a.name = "in_hid", a.pre = 0, a.post = 1, a.max_delay_ms = 5, a.weight_init = {InitSpec::Dist::Normal, 3.0, 1.0};
  b.name = "hid_out", b.pre = 1, b.post = 2, b.max_delay_ms = 5, b.weight_init = {InitSpec::Dist::Normal, 0.0, 1.0};
  net.conns = {a, b};
  net.finalize();
  const std::vector<double> params = init_params(net, 1);
  auto engine = make_engine(net, EngineOptions{});
  SpikeBatch batch;
  const std::vector<double> times = {1.0, 4.0, 7.5};
  const std::vector<uint32_t> chans = {0, 1, 0};
  batch.add_sample(times, chans, net.dt);
  ForwardOutputs fwd;
  engine->forward(params, batch, fwd);
  BackwardInputs bin;
  const LossResult r = compute_loss(LossSpec{}, fwd, std::vector<int32_t>{1}, 1, bin);
  std::vector<double> grad(net.n_params);
  engine->backward(params, bin, grad);
  double norm = 0;
  for (double g : grad) norm += g * g;
  std::printf("consumer: delayprop %s, %zu parameters, loss %.6f, |grad| %.6e\n", build_info().version.c_str(),
              size_t(net.n_params), r.loss, std::sqrt(norm));
  return norm > 0 && std::isfinite(norm) ? 0 : 1;
}
