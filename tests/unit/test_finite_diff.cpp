// EventProp gradients against central finite differences on small random networks (MODEL.md §3.4).
// A time-stepped loss is a staircase in every parameter that acts through spike times, so the
// perturbation is large enough to move spikes by several steps (0.02 for weights, 0.2 ms for
// delays at dt = 0.01 ms) and the comparison is per parameter group, by cosine similarity.
//
// Dithering: each batch holds several copies of a few random input patterns, every input spike
// of a copy moved by a random whole number of steps within +-0.05 ms. Every copy's loss is a
// staircase with its own phase, so the batch loss is a much finer staircase while its true
// gradient stays close to that of one pattern. Without it, central differences at dt = 0.01 ms
// are dominated by the steps on these networks (cosine 0.74-0.94 for the hidden groups, with
// EventProp agreeing at finer dt); with it they agree to >= 0.985.
//
// Parameters whose +-h perturbation makes a spike appear or disappear (a jump of the loss
// inside the interval, which no gradient describes) are left out of the cosine and counted;
// at most a fifth of a group may be left out.
//
// The max readout reads V at one step, so its loss is the noisiest staircase: at dt = 0.01 ms
// its hidden groups reach only 0.94-0.99 with dithering; it is checked at dt = 0.002 ms
// (at dt = 0.001 ms, 0.993-1.000). See docs/VERIFICATION.md.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "grad_test_util.hpp"
#include "kernels/factory.hpp"

using namespace delayprop;
using namespace delayprop::testutil;

namespace {

struct GroupInit {
  double w_mean, w_sd, d_lo, d_hi;
  bool positive = false;  // |w|: see the max readout below
};

// Weights N(mean, sd), delays U[lo, hi) per connection, from one seed.
std::vector<double> random_params(const Network& net, const std::vector<GroupInit>& init, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::vector<double> p(net.n_params);
  for (size_t c = 0; c < net.conns.size(); ++c) {
    const auto& conn = net.conns[c];
    std::normal_distribution<double> nw(init[c].w_mean, init[c].w_sd);
    std::uniform_real_distribution<double> ud(init[c].d_lo, init[c].d_hi);
    for (size_t k = 0; k < conn.n_synapses(); ++k) {
      p[conn.weight_offset + k] = init[c].positive ? std::fabs(nw(g)) : nw(g);
      p[conn.delay_offset + k] = ud(g);
    }
  }
  return p;
}

struct GroupResult {
  std::string name;
  double cosine, worst_rel, norm_ratio;
  size_t n, n_jump;
};

// Compares EventProp with central differences, group by group; prints one line per group.
std::vector<GroupResult> compare(const Problem& pb, std::span<const double> params, double hw, double hd,
                                 const std::string& label) {
  auto engine = make_engine(pb.net, pb.opt);
  ForwardOutputs fwd;
  const std::vector<double> g = pb.grad_at(*engine, params, &fwd);
  // Spike statistics of the hidden layers, to show the case is not degenerate.
  std::printf("[finite-diff] %s: loss %.6f, spikes per hidden neuron and sample:", label.c_str(),
              pb.loss_at(*engine, params));
  for (size_t p = 0; p < pb.net.pops.size(); ++p) {
    if (fwd.spike_counts[p].empty()) continue;
    double sum = 0;
    uint32_t lo = UINT32_MAX, hi = 0;
    for (uint32_t c : fwd.spike_counts[p]) {
      sum += c;
      lo = std::min(lo, c);
      hi = std::max(hi, c);
    }
    const double B = pb.batch.n_samples;
    std::printf(" %s mean %.2f [min %.2f, max %.2f]", pb.net.pops[p].name.c_str(), sum / fwd.spike_counts[p].size() / B,
                lo / B, hi / B);
  }
  std::printf("\n");

  std::vector<double> fd(pb.net.n_params);
  std::vector<uint8_t> jump(pb.net.n_params, 0);
  std::vector<double> q(params.begin(), params.end());
  std::vector<GroupResult> out;
  for (const auto& c : pb.net.conns) {
    for (int is_delay = 0; is_delay < 2; ++is_delay) {
      const size_t off = is_delay ? c.delay_offset : c.weight_offset, n = c.n_synapses();
      const double hh = is_delay ? hd : hw;
      for (size_t k = off; k < off + n; ++k) {
        ForwardOutputs fp, fm;
        q[k] = params[k] + hh;
        const double lp = pb.loss_at(*engine, q, &fp);
        q[k] = params[k] - hh;
        const double lm = pb.loss_at(*engine, q, &fm);
        q[k] = params[k];
        fd[k] = (lp - lm) / (2 * hh);
        // A spike that appears or disappears makes the loss jump inside [-h, h]: the difference
        // quotient then measures the jump, not the derivative EventProp computes.
        jump[k] = fp.spike_counts != fwd.spike_counts || fm.spike_counts != fwd.spike_counts;
      }
      // The smooth entries: those whose perturbation changes no neuron's spike count.
      std::vector<double> a, b;
      size_t n_jump = 0;
      for (size_t k = off; k < off + n; ++k) {
        if (jump[k]) {
          ++n_jump;
          continue;
        }
        a.push_back(g[k]);
        b.push_back(fd[k]);
      }
      double fmax = 0;
      for (double v : b) fmax = std::max(fmax, std::fabs(v));
      // Largest relative error among the entries that matter (|fd| >= 10 % of the largest).
      double worst = 0;
      for (size_t i = 0; i < a.size(); ++i)
        if (std::fabs(b[i]) >= 0.1 * fmax) worst = std::max(worst, std::fabs(a[i] - b[i]) / std::fabs(b[i]));
      GroupResult r{c.name + (is_delay ? ".delays" : ".weights"), cosine(a, b), worst,
                    std::sqrt(dot(a, a) / std::max(dot(b, b), 1e-300)), n, n_jump};
      std::printf("    %-18s n=%3zu (%zu jump)  cosine %.5f  |g|/|fd| %.4f  largest rel err (|fd| >= 10%% of max) %.3f\n",
                  r.name.c_str(), n, n_jump, r.cosine, r.norm_ratio, r.worst_rel);
      out.push_back(r);
    }
  }
  std::fflush(stdout);
  return out;
}

// n_patterns random patterns (per_channel spikes per channel in [0, t_hi) ms), each repeated
// `copies` times with every spike jittered by a whole number of steps up to +-jitter_ms;
// pattern k has label k.
void dithered_batch(Problem& pb, uint32_t n_patterns, uint32_t copies, uint32_t per_channel, double t_hi,
                    double jitter_ms, uint64_t seed) {
  const int jitter = int(std::lround(jitter_ms / pb.net.dt));
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> ut(0.0, t_hi);
  std::uniform_int_distribution<int> uj(-jitter, jitter);
  pb.batch.clear();
  pb.labels.clear();
  for (uint32_t k = 0; k < n_patterns; ++k) {
    std::vector<double> base;
    std::vector<uint32_t> ch;
    for (uint32_t c = 0; c < pb.net.n_input_channels; ++c)
      for (uint32_t s = 0; s < per_channel; ++s) {
        base.push_back(ut(g));
        ch.push_back(c);
      }
    for (uint32_t r = 0; r < copies; ++r) {
      std::vector<double> t = base;
      for (double& x : t) x = std::max(0.0, x + uj(g) * pb.net.dt);
      pb.batch.add_sample(t, ch, pb.net.dt);
      pb.labels.push_back(int32_t(k));
    }
  }
}

Population pop(const std::string& name, PopKind kind, uint32_t size, Readout ro = Readout::None) {
  return make_pop(name, kind, size, ro);
}

// (i) 5 inputs -> 6 LIF -> 5 LIF -> 3 LI; (ii) 4 inputs -> 6 recurrent LIF -> 3 LI.
Problem feedforward(Readout ro, double dt, uint32_t copies) {
  Problem pb;
  pb.net.dt = dt;
  pb.net.n_steps = uint32_t(std::lround(30.0 / dt));  // 30 ms
  pb.net.pops = {pop("in", PopKind::Input, 5), pop("h1", PopKind::LIF, 6), pop("h2", PopKind::LIF, 5),
                 pop("out", PopKind::LI, 3, ro)};
  pb.net.conns = {make_conn(pb.net, "in_h1", "in", "h1", 6.0), make_conn(pb.net, "h1_h2", "h1", "h2", 6.0),
                  make_conn(pb.net, "h2_out", "h2", "out", 6.0)};
  pb.net.finalize();
  dithered_batch(pb, 2, copies, 4, 15.0, 0.05, 11);
  return pb;
}

Problem recurrent(Readout ro, double dt, uint32_t copies) {
  Problem pb;
  pb.net.dt = dt;
  pb.net.n_steps = uint32_t(std::lround(30.0 / dt));
  pb.net.pops = {pop("in", PopKind::Input, 4), pop("rec", PopKind::LIF, 6), pop("out", PopKind::LI, 3, ro)};
  pb.net.conns = {make_conn(pb.net, "in_rec", "in", "rec", 6.0), make_conn(pb.net, "rec_rec", "rec", "rec", 6.0),
                  make_conn(pb.net, "rec_out", "rec", "out", 6.0)};
  pb.net.finalize();
  dithered_batch(pb, 2, copies, 4, 15.0, 0.05, 12);
  return pb;
}

const std::vector<GroupInit> kFeedforwardInit{{1.2, 0.6, 0.5, 5.0}, {1.0, 0.8, 0.5, 5.0}, {0.3, 0.5, 0.5, 5.0}};
const std::vector<GroupInit> kRecurrentInit{{1.4, 0.6, 0.5, 5.0}, {0.0, 0.5, 0.5, 5.0}, {0.3, 0.5, 0.5, 5.0}};

struct FdCase {
  const char* name;
  bool rec;
  Readout ro;
  double dt;
  uint32_t copies;
};

void PrintTo(const FdCase& c, std::ostream* os) { *os << c.name; }

class FiniteDiff : public ::testing::TestWithParam<FdCase> {};

TEST_P(FiniteDiff, CosinePerGroup) {
  const FdCase cs = GetParam();
  Problem pb = cs.rec ? recurrent(cs.ro, cs.dt, cs.copies) : feedforward(cs.ro, cs.dt, cs.copies);
  auto init = cs.rec ? kRecurrentInit : kFeedforwardInit;
  // Max readout: with an inhibitory output synapse the maximum of V can sit on the kink where
  // that synapse's current arrives (V' < 0 after it), where y depends on the arrival time
  // although the rule of MODEL.md §3 (a) assumes V' = 0 at the maximum (docs/VERIFICATION.md).
  // Positive output weights keep every maximum a smooth peak.
  if (cs.ro == Readout::Max) init.back().positive = true;
  const auto params = random_params(pb.net, init, 5);
  const auto res = compare(pb, params, 0.02, 0.2, cs.name);
  for (const auto& r : res) {
    RecordProperty(r.name + ".cosine", std::to_string(r.cosine));
    EXPECT_GE(r.cosine, 0.98) << r.name;
    EXPECT_LE(r.n_jump * 5, r.n) << r.name << ": too many parameters move across a spike (dis)appearance";
  }
}

INSTANTIATE_TEST_SUITE_P(Networks, FiniteDiff,
                         ::testing::Values(FdCase{"ff_sum_exp", false, Readout::SumExp, 0.01, 6},
                                           FdCase{"ff_average", false, Readout::Average, 0.01, 6},
                                           FdCase{"ff_max", false, Readout::Max, 0.002, 4},
                                           FdCase{"rec_sum_exp", true, Readout::SumExp, 0.01, 6},
                                           FdCase{"rec_average", true, Readout::Average, 0.01, 6},
                                           FdCase{"rec_max", true, Readout::Max, 0.002, 4}),
                         [](const auto& info) { return std::string(info.param.name); });

// First-spike loss (MODEL.md §4): 4 inputs -> 5 LIF -> 3 LIF outputs that fire once. The loss
// depends only on the outputs' first spike STEPS, a much coarser staircase than the readouts
// above (MODEL.md §3.4 reports 0.997 output weights, 0.90-0.95 hidden weights, 0.88 delays at
// dt = 0.01 ms); here dt = 0.002 ms with dithering, which reaches 0.99; the bound 0.97 leaves
// room for the staircase.
TEST(FiniteDiffFirstSpike, CosinePerGroup) {
  Problem pb;
  pb.net.dt = 0.002;
  pb.net.n_steps = uint32_t(std::lround(30.0 / pb.net.dt));
  Population out = pop("out", PopKind::LIF, 3, Readout::FirstSpike);
  out.single_spike = true;
  pb.net.pops = {pop("in", PopKind::Input, 4), pop("hid", PopKind::LIF, 5), out};
  pb.net.conns = {make_conn(pb.net, "in_hid", "in", "hid", 5.0), make_conn(pb.net, "hid_out", "hid", "out", 5.0)};
  pb.net.finalize();
  pb.loss.kind = LossKind::FirstSpike;
  pb.loss.delta_ms = 2.0;
  dithered_batch(pb, 3, 4, 2, 15.0, 0.05, 21);
  const auto params = random_params(pb.net, {{2.5, 1.0, 0.5, 4.5}, {2.0, 1.0, 0.5, 4.5}}, 3);
  auto engine = make_engine(pb.net, pb.opt);
  ForwardOutputs fwd;
  pb.loss_at(*engine, params, &fwd);
  size_t silent = 0;
  for (int32_t s : fwd.first_spike_step) silent += s < 0;
  std::printf("[finite-diff] first_spike: %zu of %zu output first spikes missing\n", silent, fwd.first_spike_step.size());
  EXPECT_EQ(silent, 0u) << "every output must spike for the loss to see it";
  const auto res = compare(pb, params, 0.02, 0.2, "first_spike");
  for (const auto& r : res) {
    RecordProperty(r.name + ".cosine", std::to_string(r.cosine));
    EXPECT_GE(r.cosine, 0.97) << r.name;
    EXPECT_LE(r.n_jump * 5, r.n) << r.name;
  }
}

// The float32 engine computes the same gradient as the float64 one on the network above, up
// to rounding (which may move a threshold crossing by a step now and then).
TEST(FiniteDiffPrecision, Float32MatchesFloat64) {
  Problem pb = feedforward(Readout::SumExp, 0.01, 2);
  const auto params = random_params(pb.net, kFeedforwardInit, 5);
  auto e64 = make_engine(pb.net, pb.opt);
  const auto g64 = pb.grad_at(*e64, params);
  pb.opt.precision = Precision::Float32;
  auto e32 = make_engine(pb.net, pb.opt);
  const auto g32 = pb.grad_at(*e32, params);
  for (const auto& c : pb.net.conns)
    for (int is_delay = 0; is_delay < 2; ++is_delay) {
      const size_t off = is_delay ? c.delay_offset : c.weight_offset, n = c.n_synapses();
      const std::span<const double> a(g32.data() + off, n), b(g64.data() + off, n);
      const double cs = cosine(a, b);
      std::printf("[precision] %s.%s float32 vs float64 cosine %.7f\n", c.name.c_str(), is_delay ? "delays" : "weights", cs);
      EXPECT_GE(cs, 0.999) << c.name;
    }
}

}  // namespace
