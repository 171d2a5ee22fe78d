// The spike-count regulariser (MODEL.md §4) is a rule, not the gradient of a loss: it is tested
// as a rule. (1) regulariser_kicks gives kick_q = (k / B^2)(n_q - nu B) with k = k_up above
// the target and k_low below it, for hidden LIF populations only. (2) backward() subtracts the
// kick from lambda_V at each spike, after the jump: for a neuron that spikes once at step n_s,
// the kick's effect on lambda at the start of step m <= n_s (k = n_s - m + 1 steps earlier) is
// exactly the homogeneous adjoint solution
//     d lambda_V = -kick alpha^k,   d lambda_I = -kick A (beta^k - alpha^k),  A = tau_m/(tau_s - tau_m),
// so the gradients of its incoming synapse change by -tau_s d lambda_I and -w (d lambda_I - d lambda_V).
#include <gtest/gtest.h>

#include <cmath>

#include "core/model_math.hpp"
#include "kernels/factory.hpp"
#include "grad_test_util.hpp"

using namespace delayprop;
using namespace delayprop::testutil;

namespace {

Network reg_net() {
  Network net;
  net.dt = 0.01;
  net.n_steps = 3000;
  Population out = make_pop("out", PopKind::LIF, 2, Readout::FirstSpike);
  out.single_spike = true;
  net.pops = {make_pop("in", PopKind::Input, 2), make_pop("h1", PopKind::LIF, 3), make_pop("h2", PopKind::LIF, 2), out};
  net.conns = {make_conn(net, "in_h1", "in", "h1", 1.0), make_conn(net, "h1_h2", "h1", "h2", 1.0),
               make_conn(net, "h2_out", "h2", "out", 1.0)};
  net.finalize();
  return net;
}

TEST(Regulariser, KickValuesAboveAndBelowTarget) {
  const Network net = reg_net();
  RegulariserSpec spec;
  spec.enabled = true;
  spec.nu = 10;
  spec.k_up = 3e-3;
  spec.k_low = 5e-4;
  const uint64_t B = 2;  // target n = nu B = 20
  std::vector<std::vector<uint32_t>> counts = {{}, {30, 10, 20}, {21, 0}, {4, 4}};
  const auto kicks = regulariser_kicks(spec, net, counts, B);
  ASSERT_EQ(kicks.size(), 4u);
  EXPECT_TRUE(kicks[0].empty());  // input
  ASSERT_EQ(kicks[1].size(), 3u);
  EXPECT_DOUBLE_EQ(kicks[1][0], 3e-3 / 4 * 10);     // above: k_up
  EXPECT_DOUBLE_EQ(kicks[1][1], 5e-4 / 4 * -10);    // below: k_low, negative (raises activity)
  EXPECT_EQ(kicks[1][2], 0.0);                      // at the target
  ASSERT_EQ(kicks[2].size(), 2u);
  EXPECT_DOUBLE_EQ(kicks[2][0], 3e-3 / 4 * 1);
  EXPECT_DOUBLE_EQ(kicks[2][1], 5e-4 / 4 * -20);
  EXPECT_TRUE(kicks[3].empty());  // the output population is never regularised

  spec.populations = {2};  // only h2
  const auto only = regulariser_kicks(spec, net, counts, B);
  EXPECT_TRUE(only[1].empty());
  EXPECT_EQ(only[2].size(), 2u);

  spec.enabled = false;
  for (const auto& k : regulariser_kicks(spec, net, counts, B)) EXPECT_TRUE(k.empty());

  spec.enabled = true;
  spec.populations.clear();
  counts[1].pop_back();  // wrong size: an error naming the population
  try {
    regulariser_kicks(spec, net, counts, B);
    FAIL() << "no error for a counts vector of the wrong size";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("h1"), std::string::npos) << e.what();
  }
}

// in (1) -> hid (2 LIF: neuron 0 spikes once, neuron 1 never) -> out (LI, sum-exp).
struct KickRig {
  Network net;
  std::vector<double> params;
  SpikeBatch batch;
  double t0 = 1.005, w0 = 8.0, d0 = 1.5;

  KickRig() {
    net.dt = 0.01;
    net.n_steps = 3000;
    net.pops = {make_pop("in", PopKind::Input, 1), make_pop("hid", PopKind::LIF, 2),
                make_pop("out", PopKind::LI, 1, Readout::SumExp)};
    net.conns = {make_conn(net, "in_hid", "in", "hid", 5.0), make_conn(net, "hid_out", "hid", "out", 5.0)};
    net.finalize();
    // in_hid weights [w0, 2.0], delays [d0, 0.7]; hid_out weights [0.9, 0.4], delays [3, 2].
    params = {w0, 2.0, d0, 0.7, 0.9, 0.4, 3.0, 2.0};
    const std::vector<double> t{t0};
    const std::vector<uint32_t> c{0};
    batch.add_sample(t, c, net.dt);
  }

  std::vector<double> grad(double kick0, double kick1, uint32_t* hid_counts = nullptr) const {
    EngineOptions o;
    o.precision = Precision::Float64;
    auto e = make_engine(net, o);
    ForwardOutputs fwd;
    e->forward(params, batch, fwd);
    if (hid_counts) {
      hid_counts[0] = fwd.spike_counts[1][0];
      hid_counts[1] = fwd.spike_counts[1][1];
    }
    BackwardInputs in;
    in.output_grad = {0.37};
    in.spike_kick.assign(net.pops.size(), {});
    in.spike_kick[1] = {kick0, kick1};
    std::vector<double> g(net.n_params);
    e->backward(params, in, g);
    return g;
  }

  // Step of neuron 0's spike, by running its forward equations (MODEL.md §2) here.
  int32_t spike_step() const {
    const auto k = make_step_constants<double>(20.0, 5.0, 1.0, net.dt);
    const int32_t arrival = int32_t(std::floor(t0 / net.dt)) + 1 + delay_steps(d0, net.dt, 500);
    double v = 0, i = 0;
    for (int32_t n = 0; n < int32_t(net.n_steps); ++n) {
      if (n == arrival) i += w0;
      lif_step(k, v, i);
      if (v >= 1.0) return n;
    }
    return -1;
  }
};

TEST(Regulariser, BackwardSubtractsKickAtEachSpike) {
  const KickRig rig;
  uint32_t counts[2];
  const auto g0 = rig.grad(0.0, 0.0, counts);
  ASSERT_EQ(counts[0], 1u) << "neuron 0 must spike exactly once";
  ASSERT_EQ(counts[1], 0u) << "neuron 1 must stay silent";
  const double kick = 0.05;
  const auto g1 = rig.grad(kick, 0.0);
  const auto g2 = rig.grad(2 * kick, 0.0);

  // Analytic effect at the arrival step of the input spike on neuron 0.
  const int32_t ns = rig.spike_step();
  ASSERT_GT(ns, 0);
  const int32_t arrival = int32_t(std::floor(rig.t0 / rig.net.dt)) + 1 + delay_steps(rig.d0, rig.net.dt, 500);
  const int k = ns - arrival + 1;
  const double alpha = std::exp(-rig.net.dt / 20.0), beta = std::exp(-rig.net.dt / 5.0), A = 20.0 / (5.0 - 20.0);
  const double dlv = -kick * std::pow(alpha, k), dli = -kick * A * (std::pow(beta, k) - std::pow(alpha, k));
  const double dw = -5.0 * dli, dd = -rig.w0 * (dli - dlv);
  const double got_w = g1[0] - g0[0], got_d = g1[2] - g0[2];
  std::printf("[regulariser] kick %.3f at step %d (arrival %d): d(dL/dw) %.10e (analytic %.10e), "
              "d(dL/dd) %.10e (analytic %.10e)\n",
              kick, ns, arrival, got_w, dw, got_d, dd);
  EXPECT_NEAR(got_w, dw, 1e-10 * std::fabs(dw) + 1e-14);
  EXPECT_NEAR(got_d, dd, 1e-10 * std::fabs(dd) + 1e-14);
  // Sign: a positive kick (too many spikes) raises dL/dw, so descent lowers the weight.
  EXPECT_GT(got_w, 0.0);
  // Linear in the kick.
  EXPECT_NEAR(g2[0] - g0[0], 2 * got_w, 1e-12);
  EXPECT_NEAR(g2[2] - g0[2], 2 * got_d, 1e-12);
  // Nothing else moves: the silent neuron's synapse and the output connection are untouched.
  for (size_t p : {size_t(1), size_t(3), size_t(4), size_t(5), size_t(6), size_t(7)}) {
    EXPECT_EQ(g1[p], g0[p]) << "parameter " << p;
  }
  // A kick on a neuron that never spikes changes nothing at all.
  const auto gs = rig.grad(0.0, 0.3);
  for (size_t p = 0; p < g0.size(); ++p) EXPECT_EQ(gs[p], g0[p]) << "parameter " << p;
}

}  // namespace
