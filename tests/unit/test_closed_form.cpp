// Closed-form checks of the EventProp gradients (MODEL.md §2-§3) with L = y (dL/dy = 1):
//  (a) one input spike -> one LI output through (w, d): y(w, d) is known in closed form;
//  (b) one input spike -> one LIF neuron that spikes once -> LI output: the spike time's
//      derivatives come from the implicit function theorem.
// The engine's gradient approximates the continuous-time derivative to O(dt): each case is
// run at dt = 0.01 ms and 0.001 ms and the error must shrink roughly tenfold.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "grad_test_util.hpp"
#include "kernels/factory.hpp"

using namespace delayprop;
using namespace delayprop::testutil;

namespace delayprop {
// Readable parameter names in ctest's list.
void PrintTo(Readout r, std::ostream* os) { *os << to_string(r); }
}  // namespace delayprop

namespace {

constexpr double kTauM = 20.0, kTauS = 5.0, kTrial = 30.0;

// Continuous model: tau_m dV/dt = -V + I, tau_s dI/dt = -I; a jump w of I at ta gives
//   V(t) = w k h(t - ta),  k = tau_s / (tau_s - tau_m),  h(u) = exp(-u/tau_s) - exp(-u/tau_m).
// Check of the normalisation: dV/dt(ta+) = w k (1/tau_m - 1/tau_s) = w / tau_m = I / tau_m.
// The discrete scheme V <- alpha V + (1 - alpha) c I with c = (tau_s/dt)(1 - beta) has the
// same limit: (1 - alpha) c I -> (dt / tau_m) I.
constexpr double kK = kTauS / (kTauS - kTauM);
double h(double u) { return std::exp(-u / kTauS) - std::exp(-u / kTauM); }
double dh(double u) { return -std::exp(-u / kTauS) / kTauS + std::exp(-u / kTauM) / kTauM; }

// Readout of a unit jump at ta (y = w * Y(ta)) and dY/dta, continuous time over [0, T].
//  sum-exp: Y = (1/T) int_ta^T exp(-t/T) k h(t - ta) dt = (k/T)(F(tau_s) - F(tau_m)),
//           F(tau) = int_ta^T exp(-t/T) exp(-(t-ta)/tau) dt
//                  = exp(-ta/T)/r - exp(-T r) exp(ta/tau)/r,  r = 1/T + 1/tau
//  average: Y = (k/T)(G(tau_s) - G(tau_m)),  G(tau) = tau (1 - exp(-(T - ta)/tau))
struct Unit {
  double y, dy_dta;
};
Unit unit_readout(Readout ro, double ta) {
  const double T = kTrial;
  auto F = [&](double tau, double& dF) {
    const double r = 1.0 / T + 1.0 / tau;
    dF = -std::exp(-ta / T) / (r * T) - std::exp(-T * r) * std::exp(ta / tau) / (r * tau);
    return std::exp(-ta / T) / r - std::exp(-T * r) * std::exp(ta / tau) / r;
  };
  auto G = [&](double tau, double& dG) {
    dG = -std::exp(-(T - ta) / tau);
    return tau * (1.0 - std::exp(-(T - ta) / tau));
  };
  double ds, dm, s, m;
  if (ro == Readout::SumExp) {
    s = F(kTauS, ds);
    m = F(kTauM, dm);
  } else {
    s = G(kTauS, ds);
    m = G(kTauM, dm);
  }
  return {kK / T * (s - m), kK / T * (ds - dm)};
}

Population lif(const std::string& name, PopKind kind, Readout ro = Readout::None) {
  Population p = make_pop(name, kind, 1, ro);
  p.tau_m = kTauM;
  p.tau_s = kTauS;
  return p;
}

struct EngineRun {
  double y;
  std::vector<double> grad;
  uint32_t hidden_spikes;
};

EngineRun run_engine(const Network& net, std::span<const double> params, double t0) {
  auto engine = make_engine(net, [] {
    EngineOptions o;
    o.precision = Precision::Float64;
    return o;
  }());
  SpikeBatch batch;
  const std::vector<double> t{t0};
  const std::vector<uint32_t> c{0};
  batch.add_sample(t, c, net.dt);
  ForwardOutputs fwd;
  engine->forward(params, batch, fwd);
  BackwardInputs bin;
  bin.output_grad = {1.0};
  EngineRun r;
  r.y = fwd.readout[0];
  r.grad.assign(net.n_params, 0.0);
  engine->backward(params, bin, r.grad);
  r.hidden_spikes = uint32_t(fwd.hidden_spikes);
  return r;
}

double rel(double got, double want) { return std::fabs(got - want) / std::fabs(want); }

const char* name_of(Readout r) { return to_string(r); }

// ---- (a) input -> LI --------------------------------------------------------------------

// Input spike in the middle of a step, so that its step is unambiguous at every dt.
double mid_step(double t, double dt) { return (std::floor(t / dt + 1e-9) + 0.5) * dt; }

class SingleLI : public ::testing::TestWithParam<Readout> {};

TEST_P(SingleLI, MatchesClosedForm) {
  const Readout ro = GetParam();
  const double w = 0.7, d = 2.0;
  double err_prev[3] = {0, 0, 0};
  for (double dt : {0.01, 0.001}) {
    Network net;
    net.dt = dt;
    net.n_steps = uint32_t(std::lround(kTrial / dt));
    net.pops = {make_pop("in", PopKind::Input, 1), lif("out", PopKind::LI, ro)};
    net.conns = {make_conn(net, "in_out", "in", "out", 5.0)};
    net.finalize();
    const double t0 = mid_step(1.0, dt);
    const std::vector<double> params{w, d};
    const EngineRun r = run_engine(net, params, t0);
    const Unit u = unit_readout(ro, t0 + d);
    const double y = w * u.y, dy_dw = u.y, dy_dd = w * u.dy_dta;
    const double e[3] = {rel(r.y, y), rel(r.grad[0], dy_dw), rel(r.grad[1], dy_dd)};
    std::printf("[closed-form a] %-8s dt=%-6g y %.8f (exact %.8f, rel err %.2e)  dL/dw %.8f (exact %.8f, %.2e)"
                "  dL/dd %.8f (exact %.8f, %.2e)\n",
                name_of(ro), dt, r.y, y, e[0], r.grad[0], dy_dw, e[1], r.grad[1], dy_dd, e[2]);
    for (int k = 0; k < 3; ++k) {
      if (dt == 0.01) {
        EXPECT_LT(e[k], 1e-2) << "quantity " << k << " at dt " << dt;
      } else {
        EXPECT_LT(e[k], 1.5e-3) << "quantity " << k << " at dt " << dt;
        EXPECT_LT(e[k], err_prev[k] / 5) << "error does not shrink with dt, quantity " << k;
      }
      err_prev[k] = e[k];
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Readouts, SingleLI, ::testing::Values(Readout::SumExp, Readout::Average),
                         [](const auto& info) { return std::string(to_string(info.param)); });

// Max readout: y = max_t V = w k h(u*) at the peak u* = ln(tau_m/tau_s) tau_m tau_s/(tau_m - tau_s),
// independent of the delay while the peak lies inside the trial: dy/dw = k h(u*), dy/dd = 0.
TEST(SingleLIMax, MatchesClosedForm) {
  const double w = 0.7, d = 2.0;
  const double upeak = std::log(kTauM / kTauS) * kTauM * kTauS / (kTauM - kTauS);
  const double dy_dw = kK * h(upeak);
  double err_prev = 0;
  for (double dt : {0.01, 0.001}) {
    Network net;
    net.dt = dt;
    net.n_steps = uint32_t(std::lround(kTrial / dt));
    net.pops = {make_pop("in", PopKind::Input, 1), lif("out", PopKind::LI, Readout::Max)};
    net.conns = {make_conn(net, "in_out", "in", "out", 5.0)};
    net.finalize();
    const std::vector<double> params{w, d};
    const EngineRun r = run_engine(net, params, mid_step(1.0, dt));
    const double e = rel(r.grad[0], dy_dw);
    std::printf("[closed-form a] max      dt=%-6g y %.8f (exact %.8f)  dL/dw %.8f (exact %.8f, rel err %.2e)"
                "  dL/dd %.3e (exact 0)\n",
                dt, r.y, w * dy_dw, r.grad[0], dy_dw, e, r.grad[1]);
    EXPECT_LT(rel(r.y, w * dy_dw), 1e-3);
    EXPECT_LT(e, dt == 0.01 ? 1e-2 : 1.5e-3);
    // dL/dd vanishes up to O(dt) relative to the scale w * |dY/dta| of the other readouts.
    EXPECT_LT(std::fabs(r.grad[1]), 20 * dt * w * dy_dw / kTauS);
    if (dt == 0.001) {
      EXPECT_LT(e, err_prev / 5);
    }
    err_prev = e;
  }
}

// Limitation of the max readout rule (MODEL.md §3 (a)), shown, not asserted: the jump at n* assumes
// V' = 0 at the maximum. An inhibitory arrival while V rises makes the maximum sit on that
// arrival's kink, y = V(t_a), and dy/dd of the inhibitory synapse is V'(t_a-) != 0, but the
// rule gives 0 there (the arrival reads the adjoint after the jump). Here input 0 (w 1) arrives
// at 2 ms, input 1 (w -3) at 5 ms, before the peak of the first PSP.
TEST(SingleLIMax, InhibitoryKinkIsNotDifferentiated) {
  const double dt = 0.001;
  Network net;
  net.dt = dt;
  net.n_steps = uint32_t(std::lround(kTrial / dt));
  net.pops = {make_pop("in", PopKind::Input, 2), lif("out", PopKind::LI, Readout::Max)};
  net.conns = {make_conn(net, "in_out", "in", "out", 6.0)};
  net.finalize();
  const std::vector<double> params{1.0, -3.0, 1.0, 1.0};  // w[0], w[1], d[0], d[1]
  auto engine = make_engine(net, [] {
    EngineOptions o;
    o.precision = Precision::Float64;
    return o;
  }());
  SpikeBatch batch;
  const std::vector<double> t{mid_step(1.0, dt), mid_step(4.0, dt)};
  const std::vector<uint32_t> c{0, 1};
  batch.add_sample(t, c, dt);
  auto y_at = [&](const std::vector<double>& p) {
    ForwardOutputs f;
    engine->forward(p, batch, f);
    return f.readout[0];
  };
  const double y = y_at(params);
  BackwardInputs bin;
  bin.output_grad = {1.0};
  std::vector<double> g(4);
  engine->backward(params, bin, g);
  auto q = params;
  q[3] += 0.05;
  const double yp = y_at(q);
  q[3] -= 0.1;
  const double fd = (yp - y_at(q)) / 0.1;
  const double u = 3.0;  // t_a - t1: both arrivals are shifted alike by the discretisation
  const double exact = (1.0 * std::exp(-u / kTauS) - 1.0 * kK * h(u)) / kTauM;  // V'(t_a-) = (I - V) / tau_m
  std::printf("[closed-form a] max at an inhibitory kink: y %.6f (V(t_a) %.6f)  dy/dd_inh: finite diff %.6f, "
              "V'(t_a-) %.6f, EventProp %.6f\n",
              y, kK * h(u), fd, exact, g[3]);
  EXPECT_NEAR(y, kK * h(u), 1e-3);
  EXPECT_NEAR(fd, exact, 1e-3 * std::fabs(exact) + 1e-5);
}

// ---- (b) input -> LIF (one spike) -> LI -------------------------------------------------

// First crossing of theta by w k h(u), by bisection on [0, u_peak].
double crossing(double w, double theta) {
  const double upeak = std::log(kTauM / kTauS) * kTauM * kTauS / (kTauM - kTauS);
  double lo = 0, hi = upeak;
  if (w * kK * h(hi) < theta) return NAN;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    (w * kK * h(mid) < theta ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

class OneSpike : public ::testing::TestWithParam<Readout> {};

TEST_P(OneSpike, MatchesImplicitFunctionTheorem) {
  const Readout ro = GetParam();
  const double w1 = 8.0, d1 = 1.5, w2 = 0.9, d2 = 3.0, theta = 1.0;
  const double t0 = 1.0;
  // Continuous spike time ts = t0 + d1 + u*, with w1 k h(u*) = theta. Implicit function
  // theorem: dts/dp = -(dV/dp) / (dV/dt) at the crossing.
  const double us = crossing(w1, theta);
  ASSERT_TRUE(std::isfinite(us));
  const double ts = t0 + d1 + us;
  const double dVdt = w1 * kK * dh(us);
  const double dts_dw1 = -(kK * h(us)) / dVdt;
  const double dts_dd1 = 1.0;  // dV/dd1 = -dV/dt
  // After the reset the remaining current cannot reach theta again (checked below).
  const Unit u = unit_readout(ro, ts + d2);
  const double exact[4] = {w2 * u.dy_dta * dts_dw1, w2 * u.dy_dta * dts_dd1, u.y, w2 * u.dy_dta};
  const char* names[4] = {"w_in_hid", "d_in_hid", "w_hid_out", "d_hid_out"};
  double err_prev[4] = {0, 0, 0, 0};
  for (double dt : {0.01, 0.001}) {
    Network net;
    net.dt = dt;
    net.n_steps = uint32_t(std::lround(kTrial / dt));
    net.pops = {make_pop("in", PopKind::Input, 1), lif("hid", PopKind::LIF), lif("out", PopKind::LI, ro)};
    net.conns = {make_conn(net, "in_hid", "in", "hid", 5.0), make_conn(net, "hid_out", "hid", "out", 5.0)};
    net.finalize();
    ASSERT_EQ(net.conns[0].weight_offset, 0u);
    ASSERT_EQ(net.conns[1].delay_offset, 3u);
    const std::vector<double> params{w1, d1, w2, d2};
    const EngineRun r = run_engine(net, params, mid_step(t0, dt));
    ASSERT_EQ(r.hidden_spikes, 1u) << "the hidden neuron must spike exactly once";
    std::printf("[closed-form b] %-8s dt=%-6g y %.8f (exact %.8f)  spike at %.4f ms\n", name_of(ro), dt, r.y,
                w2 * u.y, ts);
    for (int k = 0; k < 4; ++k) {
      const double e = rel(r.grad[k], exact[k]);
      std::printf("    dL/d%-10s %+.8f  exact %+.8f  rel err %.2e\n", names[k], r.grad[k], exact[k], e);
      if (dt == 0.01) {
        EXPECT_LT(e, 2e-2) << names[k];
      } else {
        EXPECT_LT(e, 3e-3) << names[k];
        // (unless it was already at the 1e-6 level by a lucky cancellation)
        EXPECT_LT(e, std::max(err_prev[k] / 4, 2e-6)) << names[k] << ": error does not shrink with dt";
      }
      err_prev[k] = e;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Readouts, OneSpike, ::testing::Values(Readout::SumExp, Readout::Average),
                         [](const auto& info) { return std::string(to_string(info.param)); });

}  // namespace
