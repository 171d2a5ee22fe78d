// The canonical order of a ring cell's additions (MODEL.md §2.3): the input arrivals X are
// summed apart from the LIF arrivals A and the step adds X + A. One output cell receives, in
// emission order, +1 (input, step 0), 2^-60 (a LIF spike, step 1) and -1 (input, step 2):
// X + A = (1 - 1) + 2^-60 = 2^-60, while summing in emission order would round 1 + 2^-60 to 1
// and leave exactly 0. The output therefore moves only under the canonical order; checked
// for float32 and float64, scalar and vector synapse kernels.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/model_math.hpp"
#include "core/network.hpp"
#include "kernels/factory.hpp"

using namespace delayprop;

namespace {

Connection conn(const std::string& name, uint32_t pre, uint32_t post) {
  Connection c;
  c.name = name;
  c.pre = pre;
  c.post = post;
  c.max_delay_ms = 8.0;
  return c;
}

// in (n_in channels) -> h (n_h single-spike LIF neurons) -> out (one LI neuron, average
// readout), 12 steps of 1 ms, with the given connections.
Network in_h_out(uint32_t n_in, uint32_t n_h, std::vector<Connection> conns) {
  Network net;
  net.dt = 1.0;
  net.n_steps = 12;
  net.pops.push_back({"in", PopKind::Input, n_in});
  Population h{"h", PopKind::LIF, n_h};
  h.single_spike = true;
  net.pops.push_back(h);
  Population out{"out", PopKind::LI, 1};
  out.readout = Readout::Average;
  net.pops.push_back(out);
  net.conns = std::move(conns);
  net.finalize();
  return net;
}

// check(forward outputs, a name for the engine) for float32 and float64, scalar and vector
// synapse kernels.
template <typename Check>
void on_every_engine(const Network& net, const std::vector<double>& p, const SpikeBatch& batch, Check check) {
  for (Precision prec : {Precision::Float32, Precision::Float64})
    for (const char* simd : {"scalar", "auto"}) {
      EngineOptions opt;
      opt.precision = prec;
      opt.simd = simd;
      auto engine = make_engine(net, opt);
      ForwardOutputs fwd;
      engine->forward(p, batch, fwd);
      check(fwd, std::string(prec == Precision::Float32 ? "float32 " : "float64 ") + simd);
    }
}

TEST(ArrivalOrder, InputArrivalsAreSummedApartFromLifArrivals) {
  // h spikes once, in step 1.
  const Network net = in_h_out(2, 1, {conn("in_h", 0, 1), conn("h_out", 1, 2), conn("in_out", 0, 2)});
  std::vector<double> p(net.n_params, 0.0);
  const auto& in_h = net.conns[0];
  const auto& h_out = net.conns[1];
  const auto& in_out = net.conns[2];
  p[in_h.weight_offset + 0] = 1000.0;  // channel 0 (step 0) -> h spikes in step 1
  p[h_out.weight_offset] = std::ldexp(1.0, -60);
  p[h_out.delay_offset] = 3.0;           // arrives at 1 + 1 + 3 = 5
  p[in_out.weight_offset + 0] = 1.0;     // channel 0, step 0, delay 4: arrives at 5
  p[in_out.delay_offset + 0] = 4.0;
  p[in_out.weight_offset + 1] = -1.0;    // channel 1, step 2, delay 2: arrives at 5
  p[in_out.delay_offset + 1] = 2.0;
  SpikeBatch batch;
  batch.add_sample(std::vector<double>{0.5, 2.5}, std::vector<uint32_t>{0, 1}, net.dt);
  on_every_engine(net, p, batch, [](const ForwardOutputs& fwd, const std::string& what) {
    ASSERT_EQ(fwd.spike_counts[1], std::vector<uint32_t>{1}) << what;
    // From step 5 the output's current is 2^-60 (then decays): its average V is positive
    // and of that order; under emission order it would be exactly 0.
    EXPECT_GT(fwd.readout[0], 0.0) << what;
    EXPECT_LT(fwd.readout[0], std::ldexp(1.0, -60)) << what;
  });
}

// Two connections from one population into the same target: the spikes of a step are
// delivered spike by spike, each spike's connections in declaration order (MODEL.md §2.3),
// even though the engine delivers connection by connection where the targets differ. The
// output cell receives, in that order, +1 (h0 by A), 2^-60 (h0 by B) and -1 (h1 by A):
// (1 + 2^-60) - 1 = 0 exactly, where connection by connection would leave 2^-60.
TEST(ArrivalOrder, TwoConnectionsIntoOneTargetKeepSpikeOrder) {
  // h0 and h1 both spike in step 1.
  const Network net = in_h_out(1, 2, {conn("in_h", 0, 1), conn("a", 1, 2), conn("b", 1, 2)});
  std::vector<double> p(net.n_params, 0.0);
  const auto& in_h = net.conns[0];
  const auto& a = net.conns[1];
  const auto& b = net.conns[2];
  p[in_h.weight_offset + 0] = p[in_h.weight_offset + 1] = 1000.0;
  p[a.weight_offset + 0] = 1.0;   // h0 -> out
  p[a.weight_offset + 1] = -1.0;  // h1 -> out
  p[b.weight_offset + 0] = std::ldexp(1.0, -60);
  for (const auto* c : {&a, &b})
    for (uint32_t i = 0; i < 2; ++i) p[c->delay_offset + i] = 3.0;  // all arrive in step 5
  SpikeBatch batch;
  batch.add_sample(std::vector<double>{0.5}, std::vector<uint32_t>{0}, net.dt);
  on_every_engine(net, p, batch, [](const ForwardOutputs& fwd, const std::string& what) {
    ASSERT_EQ(fwd.spike_counts[1], (std::vector<uint32_t>{1, 1})) << what;
    EXPECT_EQ(fwd.readout[0], 0.0) << what;
  });
}

// A delay in steps (the step of a synapse's arrival): delay / dt rounded half away from zero,
// clamped to [0, max]; NaN and negative delays give 0. Against std::round on the values next
// to every half step and on random bit patterns.
TEST(ArrivalOrder, DelayStepsRoundHalfAwayFromZeroAndClamp) {
  auto reference = [](double d, double dt, int32_t max_steps) {
    const double s = std::round(d / dt);
    if (!(s > 0.0)) return 0;
    return s > double(max_steps) ? max_steps : int32_t(s);
  };
  EXPECT_EQ(delay_steps(2.5, 1.0, 10), 3);
  EXPECT_EQ(delay_steps(std::nextafter(2.5, 0.0), 1.0, 10), 2);
  EXPECT_EQ(delay_steps(0.49, 1.0, 10), 0);
  EXPECT_EQ(delay_steps(9.5, 1.0, 10), 10);
  EXPECT_EQ(delay_steps(1e300, 1.0, 10), 10);
  EXPECT_EQ(delay_steps(-3.0, 1.0, 10), 0);
  EXPECT_EQ(delay_steps(std::numeric_limits<double>::quiet_NaN(), 1.0, 10), 0);
  std::mt19937_64 rng(9);
  for (double dt : {1.0, 0.1, 0.005, 0.7})
    for (int32_t max_steps : {1, 62, 1024, 65535, 70000})
      for (int32_t k = 0; k <= max_steps + 1; k += 1 + max_steps / 500) {
        const double half = (k + 0.5) * dt;
        for (double d : {half, std::nextafter(half, 0.0), std::nextafter(half, 1e9), k * dt}) {
          ASSERT_EQ(delay_steps(d, dt, max_steps), reference(d, dt, max_steps)) << d << " ms, dt " << dt;
        }
        uint64_t bits = rng();
        double d;
        std::memcpy(&d, &bits, sizeof d);
        ASSERT_EQ(delay_steps(d, dt, max_steps), reference(d, dt, max_steps)) << d << " ms, dt " << dt;
      }
}

}  // namespace
