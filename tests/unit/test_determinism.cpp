// Results must not depend on the number of threads (MODEL.md §3: gradients are summed over the
// samples of a batch in a fixed order): gradients, spike counts, readouts and the parameters
// after a few Adam steps are bitwise identical with 1, 2 and 3 threads, in float32 and float64.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "core/optimizer.hpp"
#include "kernels/factory.hpp"
#include "grad_test_util.hpp"

using namespace delayprop;
using namespace delayprop::testutil;

namespace {

Config det_config() {
  return parse_config(R"(
[network]
dt = 0.05
duration = 25.0
[[network.population]]
name = "in"
kind = "input"
size = 6
[[network.population]]
name = "rec"
kind = "lif"
size = 10
[[network.population]]
name = "out"
kind = "li"
size = 3
readout = "sum_exp"
[[network.connection]]
name = "in_rec"
pre = "in"
post = "rec"
max_delay = 5.0
weight_init = { dist = "normal", mean = 1.0, sd = 0.5 }
delay_init = { dist = "uniform", low = 0.0, high = 5.0 }
[[network.connection]]
name = "rec_rec"
pre = "rec"
post = "rec"
max_delay = 3.0
weight_init = { dist = "normal", mean = 0.0, sd = 0.3 }
delay_init = { dist = "uniform", low = 0.0, high = 3.0 }
[[network.connection]]
name = "rec_out"
pre = "rec"
post = "out"
max_delay = 2.0
weight_init = { dist = "normal", mean = 0.2, sd = 0.4 }
delay_init = { dist = "uniform", low = 0.0, high = 2.0 }
)",
                      "determinism");
}

bool bitwise_equal(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

struct Outcome {
  std::vector<double> first_grad, readout, params;
  std::vector<std::vector<uint32_t>> counts;
};

// Three forward/backward/Adam steps on a batch of 13 samples, with a regulariser kick.
Outcome train(const Config& cfg, Precision prec, int threads) {
  Problem pb;
  pb.net = cfg.net;
  pb.opt.precision = prec;
  pb.opt.threads = threads;
  random_batch(pb, 13, 5, 0.0, 20.0, 3, 99);
  RegulariserSpec reg;
  reg.enabled = true;
  reg.nu = 2;
  reg.k_up = reg.k_low = 1e-3;
  auto engine = make_engine(pb.net, pb.opt);
  auto params = init_params(pb.net, 7);
  Adam adam(pb.net);
  Outcome o;
  for (int step = 0; step < 3; ++step) {
    ForwardOutputs fwd;
    engine->forward(params, pb.batch, fwd);
    BackwardInputs bin;
    compute_loss(pb.loss, fwd, pb.labels, pb.batch.n_samples, bin);
    bin.spike_kick = regulariser_kicks(reg, pb.net, fwd.spike_counts, pb.batch.n_samples);
    std::vector<double> g(pb.net.n_params);
    engine->backward(params, bin, g);
    if (step == 0) {
      o.first_grad = g;
      o.readout = fwd.readout;
      o.counts = fwd.spike_counts;
    }
    adam.step(params, g, 1e-2, 0.1);
  }
  o.params = params;
  return o;
}

class Determinism : public ::testing::TestWithParam<Precision> {};

TEST_P(Determinism, ThreadCountDoesNotChangeResults) {
  const Config cfg = det_config();
  const Outcome ref = train(cfg, GetParam(), 1);
  uint64_t spikes = 0;
  for (const auto& c : ref.counts)
    for (uint32_t n : c) spikes += n;
  ASSERT_GT(spikes, 13u * 10u) << "the network must be active for the check to mean anything";
  double gnorm = 0;
  for (double v : ref.first_grad) gnorm += v * v;
  ASSERT_GT(gnorm, 0.0);
  for (int threads : {2, 3}) {
    const Outcome o = train(cfg, GetParam(), threads);
    EXPECT_TRUE(bitwise_equal(ref.first_grad, o.first_grad)) << threads << " threads: gradients differ";
    EXPECT_TRUE(bitwise_equal(ref.readout, o.readout)) << threads << " threads: readouts differ";
    EXPECT_EQ(ref.counts, o.counts) << threads << " threads: spike counts differ";
    EXPECT_TRUE(bitwise_equal(ref.params, o.params)) << threads << " threads: parameters after 3 Adam steps differ";
  }
}

INSTANTIATE_TEST_SUITE_P(Precisions, Determinism, ::testing::Values(Precision::Float32, Precision::Float64),
                         [](const auto& info) { return info.param == Precision::Float32 ? "float32" : "float64"; });

// The same engine object gives the same answer when called again (no state leaks between
// batches, e.g. from rings that were not cleared).
TEST(EngineReuse, RepeatedCallsAgree) {
  const Config cfg = det_config();
  Problem pb;
  pb.net = cfg.net;
  pb.opt.threads = 2;
  random_batch(pb, 13, 5, 0.0, 20.0, 3, 5);
  auto engine = make_engine(pb.net, pb.opt);
  const auto params = init_params(pb.net, 3);
  const auto g1 = pb.grad_at(*engine, params);
  Problem other = pb;
  random_batch(other, 4, 9, 0.0, 24.0, 3, 6);
  other.grad_at(*engine, params);  // a different batch in between
  const auto g2 = pb.grad_at(*engine, params);
  EXPECT_TRUE(bitwise_equal(g1, g2));
}

// Rounding exact sums on the engine's threads: the values of the one-thread rounding, and the
// first sum out of range is the one reported (NaN in its place), wherever the slices fall.
TEST(EngineRounding, ThreadsGiveTheSameValuesAndTheFirstOutOfRange) {
  const Config cfg = det_config();
  const size_t n = 1001;
  ExactVector sums(n);
  for (size_t i = 0; i < n; ++i) sums.add(i, std::ldexp(double(i % 7) - 3.3, int(i % 50) - 25));
  for (size_t i : {size_t(700), size_t(999)})  // two sums past the top of the range
    for (int k = 0; k < 4; ++k) ASSERT_TRUE(sums.add(i, std::ldexp(1.0, ExactSum::kTopExp - 1)));
  std::vector<double> ref(n);
  EXPECT_EQ(sums.round_to(ref), 700u);
  for (int threads : {1, 2, 3}) {
    EngineOptions opt;
    opt.threads = threads;
    auto engine = make_engine(cfg.net, opt);
    std::vector<double> out(n);
    EXPECT_EQ(engine->round_exact(sums, out), 700u) << threads << " threads";
    EXPECT_TRUE(std::isnan(out[700]) && std::isnan(out[999])) << threads << " threads";
    out[700] = out[999] = ref[700] = ref[999] = 0;
    EXPECT_TRUE(bitwise_equal(ref, out)) << threads << " threads";
  }
}

}  // namespace
