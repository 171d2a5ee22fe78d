// The CPU backend's synapse kernels give the same bits on every instruction set (MODEL.md
// §3.2, "The order of R"): each set this CPU has, forced by EngineOptions::simd, against the
// scalar set, on awkward sizes (1 hidden neuron, a lane width + 1 for AVX2, AVX-512 and the 16 lanes
// of R, a last block of 7), float32 and float64, feedforward and recurrent: spike counts, readouts and gradients
// bitwise equal (the larger networks keep a full adjoint history for the input's target, the
// smaller ones a ring: both backward paths are covered). Also: 8-, 16- and 32-bit delays
// (max delay <= 255, <= 65535, more steps) give the same bits; the block delivery of input
// spikes gives the bits of spike-by-spike scatters on every set; a mixed input wiring (two
// input populations, input spikes delivered one by one) gives the scalar bits.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include "core/aligned_vector.hpp"
#include "grad_test_util.hpp"
#include "kernels/cpu/simd.hpp"

using namespace delayprop;
using namespace delayprop::testutil;

namespace {

struct Shape {
  uint32_t hidden, outputs;
  bool recurrent;
  double max_delay_ms = 20.0;
};

Network make_net(const Shape& s) {
  Network net;
  net.dt = 1.0;
  net.n_steps = 90;
  net.pops.push_back({"in", PopKind::Input, 5});
  net.pops.push_back({"h", PopKind::LIF, s.hidden});
  Population out{"out", PopKind::LI, s.outputs};
  out.readout = Readout::SumExp;
  net.pops.push_back(out);
  auto add = [&](const std::string& name, uint32_t pre, uint32_t post, InitSpec w) {
    Connection c;
    c.name = name;
    c.pre = pre;
    c.post = post;
    c.max_delay_ms = s.max_delay_ms;
    c.weight_init = w;
    c.delay_init = {InitSpec::Dist::Uniform, 0.0, 20.0};
    net.conns.push_back(c);
  };
  add("in_h", 0, 1, {InitSpec::Dist::Normal, 1.2, 0.6});
  if (s.recurrent) add("h_h", 1, 1, {InitSpec::Dist::Normal, 0.0, 0.4});
  add("h_out", 1, 2, {InitSpec::Dist::Normal, 0.1, 0.5});
  net.finalize();
  return net;
}

struct Outcome {
  std::vector<double> grad, readout;
  std::vector<std::vector<uint32_t>> counts;
};

Outcome run(const Network& net, Precision prec, const std::string& simd) {
  Problem pb;
  pb.net = net;
  pb.opt.precision = prec;
  pb.opt.simd = simd;
  random_batch(pb, 4, 6, 0.0, 70.0, net.pops[2].size, 11);
  auto engine = make_engine(pb.net, pb.opt);
  const auto params = init_params(pb.net, 5);
  ForwardOutputs fwd;
  Outcome o;
  o.grad = pb.grad_at(*engine, params, &fwd);
  o.readout = fwd.readout;
  o.counts = fwd.spike_counts;
  return o;
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

void expect_same(const Outcome& ref, const Outcome& o, const std::string& what) {
  EXPECT_EQ(ref.counts, o.counts) << what << ": spike counts differ";
  EXPECT_TRUE(same_bits(ref.readout, o.readout)) << what << ": readouts differ";
  EXPECT_TRUE(same_bits(ref.grad, o.grad)) << what << ": gradients differ";
}

const char* name(Precision p) { return p == Precision::Float32 ? "float32" : "float64"; }

TEST(Simd, EveryInstructionSetGivesTheScalarBits) {
  std::vector<std::string> isas;
  for (cpu::Isa isa : {cpu::Isa::Avx2, cpu::Isa::Avx512})
    if (cpu::isa_supported(isa)) isas.push_back(cpu::to_string(isa));
  if (isas.empty()) GTEST_SKIP() << "this CPU has no vector instruction set the engine uses";
  for (Precision prec : {Precision::Float32, Precision::Float64})
    for (bool rec : {false, true})
      for (uint32_t h : {1u, 9u, 16u, 17u, 23u, 33u})
        for (uint32_t k : {2u, 17u}) {
          const Network net = make_net({h, k, rec});
          const Outcome ref = run(net, prec, "scalar");
          uint64_t spikes = 0;
          for (const auto& c : ref.counts)
            for (uint32_t n : c) spikes += n;
          ASSERT_GT(spikes, 0u) << "the hidden layer must spike for the check to mean anything";
          double gnorm = 0;
          for (double v : ref.grad) gnorm += v * v;
          ASSERT_GT(gnorm, 0.0);
          for (const auto& isa : isas)
            expect_same(ref, run(net, prec, isa),
                        isa + " " + name(prec) + (rec ? " recurrent" : " feedforward") + " hidden " +
                            std::to_string(h) + " outputs " + std::to_string(k));
        }
}

TEST(Simd, EveryDelayWidthGivesTheSameBits) {
  for (Precision prec : {Precision::Float32, Precision::Float64}) {
    // Max delay 200 steps (8-bit delays), 60000 (16-bit) and 70000 (32-bit); the drawn delays
    // (up to 20 steps) are the same.
    const Outcome ref = run(make_net({17, 3, true, 200.0}), prec, "scalar");
    double gnorm = 0;
    for (double v : ref.grad) gnorm += v * v;
    ASSERT_GT(gnorm, 0.0);
    for (const char* simd : {"scalar", "auto"})
      for (double max_delay : {200.0, 60000.0, 70000.0})
        expect_same(ref, run(make_net({17, 3, true, max_delay}), prec, simd),
                    std::string(simd) + " " + name(prec) + " max delay " + std::to_string(int(max_delay)) + " steps");
  }
}

// The fold of sample gradients into exact sums: the same digits on every set, for values of
// every kind (zeros of both signs, values below the lowest bit, subnormals, large ones, and
// an out-of-range one that must be reported), P not a multiple of 8, 1 to 16 samples, float32
// and float64 sample gradients; values of wide and of narrow exponent ranges (float32
// values of a narrow range are summed in double first: fold_float_parameter), and the same
// exact sums as adding every value on its own.
template <typename Real>
void check_fold() {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  const Real subnormal = Real(sizeof(Real) == 8 ? 1e-310 : 1e-40);
  for (cpu::Isa isa : {cpu::Isa::Avx2, cpu::Isa::Avx512}) {
    if (!cpu::isa_supported(isa)) continue;
    for (bool narrow : {false, true})
      for (uint32_t S : {1u, 3u, 8u, 16u})
        for (bool bad : {false, true}) {
          std::uniform_int_distribution<int> e(narrow ? -10 : -140, narrow ? 10 : 50);
          const size_t P = 37;
          std::vector<Real> g(S * P);
          for (size_t k = 0; k < g.size(); ++k) {
            const int kind = int(rng() % (narrow ? 40 : 10));
            // Narrow: magnitudes in [2^-11, 2^10), within 21 binades.
            const double x = narrow ? (rng() & 1 ? 1 : -1) * (0.5 + 0.5 * std::abs(u(rng))) : u(rng);
            g[k] = kind == 0 ? Real(0) : kind == 1 ? -Real(0) : kind == 2 ? subnormal : Real(std::ldexp(x, e(rng)));
          }
          if (bad) g[S * P / 2] = Real(1e30);  // >= 2^60: out of range
          const std::vector<Real> g0 = g;
          std::vector<Real> g2 = g;
          std::vector<int64_t> d1(P * ExactSum::kDigits, 0), d2(P * ExactSum::kDigits, 0), d0 = d1;
          for (size_t k = 0; k < g.size(); ++k) exact_add(d0.data() + (k % P) * ExactSum::kDigits, double(g[k]));
          const bool ok1 = cpu::fold_for<Real>(cpu::Isa::Scalar)(g.data(), S, P, P, d1.data());
          const bool ok2 = cpu::fold_for<Real>(isa)(g2.data(), S, P, P, d2.data());
          const std::string what = std::string(cpu::to_string(isa)) + (sizeof(Real) == 8 ? " float64" : " float32") +
                                   (narrow ? " narrow " : " wide ") + std::to_string(S) + " samples";
          EXPECT_EQ(ok1, !bad) << what;
          EXPECT_EQ(ok1, ok2) << what;
          EXPECT_EQ(d1, d2) << what;
          EXPECT_EQ(0, std::memcmp(g.data(), g0.data(), g.size() * sizeof(Real))) << what << ": values changed";
          EXPECT_EQ(0, std::memcmp(g2.data(), g0.data(), g.size() * sizeof(Real))) << what << ": values changed";
          if (!bad) {
            for (size_t i = 0; i < P; ++i) {
              exact_normalise(d0.data() + i * ExactSum::kDigits);
              exact_normalise(d1.data() + i * ExactSum::kDigits);
            }
            EXPECT_EQ(d0, d1) << what << ": not the exact sum of the values";
          }
        }
  }
}

TEST(Simd, FoldGivesTheScalarDigits) {
  check_fold<float>();
  check_fold<double>();
}

// The rounding of exact sums: the bits of the scalar round_sums on every set, for sums of many
// terms of both signs and every size (digits not normalised), ties to even either way and ties
// broken by a far lower bit, powers
// of two and their negatives (the carries of the negation), zero, and sums out of range
// (NaN, the first one's index returned); n not a multiple of 8.
TEST(Simd, RoundGivesTheScalarBits) {
  if (!cpu::isa_supported(cpu::Isa::Avx512)) GTEST_SKIP() << "no AVX-512 on this CPU";
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::uniform_int_distribution<int> e(-140, 55);
  const size_t n = 8 * 40 + 5;
  std::vector<int64_t> d(n * ExactSum::kDigits, 0);
  for (size_t i = 0; i < n; ++i) {
    int64_t* di = d.data() + i * ExactSum::kDigits;
    const int kind = int(i % 6);
    if (kind == 0) {  // many terms
      for (int k = 0; k < 20; ++k) exact_add(di, std::ldexp(u(rng), e(rng)));
    } else if (kind == 1) {  // a tie between two doubles: 1 + 2^-53 and 1 + 3 2^-53, times 2^k
      const int k = e(rng) + 53;
      exact_add(di, std::ldexp(rng() & 1 ? 1.0 : 1.0 + std::ldexp(1.0, -52), k));
      exact_add(di, std::ldexp(rng() & 1 ? 1.0 : -1.0, k - 53));
      if (rng() & 1) for (int t = 0; t < ExactSum::kDigits; ++t) di[t] = -di[t];
    } else if (kind == 2) {  // +-2^k: the negation's carries run through zero words
      exact_add(di, std::ldexp(rng() & 1 ? 1.0 : -1.0, e(rng)));
    } else if (kind == 3) {  // a near-cancellation: a few low bits left
      const double x = std::ldexp(u(rng), e(rng));
      exact_add(di, x);
      exact_add(di, -x);
      exact_add(di, std::ldexp(u(rng), -120));
    } else if (kind == 4) {  // raw carry-save digits of both signs
      for (int t = 0; t < ExactSum::kDigits; ++t) di[t] = int64_t(rng() % (uint64_t(1) << 40)) - (int64_t(1) << 39);
      di[ExactSum::kDigits - 1] /= (int64_t(1) << 12);
    } else if (i % 12 == 11) {  // a tie but for a bit two words below: rounds away
      const int k = int(rng() % 40) - 10;
      exact_add(di, std::ldexp(1.0, k));
      exact_add(di, std::ldexp(1.0, k - 53));
      exact_add(di, std::ldexp(rng() & 1 ? 1.0 : -1.0, k - 93));
    }  // else zero
  }
  for (size_t at : {size_t(3), size_t(13), n - 2}) d[at * ExactSum::kDigits + ExactSum::kDigits - 1] = int64_t(1) << 31;
  std::vector<double> r1(n), r2(n);
  for (size_t len : {n, size_t(7), size_t(3)}) {
    const size_t b1 = round_sums(d.data(), len, r1.data());
    const size_t b2 = cpu::round_for(cpu::Isa::Avx512)(d.data(), len, r2.data());
    EXPECT_EQ(b1, len > 3 ? 3u : len);
    EXPECT_EQ(b1, b2) << len << " sums";
    EXPECT_EQ(0, std::memcmp(r1.data(), r2.data(), len * sizeof(double))) << len << " sums";
  }
  // And the last sums alone, past the first 8 (the one out of range at n - 2).
  const size_t from = n - 13;
  EXPECT_EQ(round_sums(d.data() + from * ExactSum::kDigits, 13, r1.data()), 11u);
  EXPECT_EQ(cpu::round_for(cpu::Isa::Avx512)(d.data() + from * ExactSum::kDigits, 13, r2.data()), 11u);
  EXPECT_EQ(0, std::memcmp(r1.data(), r2.data(), 13 * sizeof(double)));
}

// The block delivery of input spikes (SynapseKernels::scatter_inputs, a ring in blocks of 16
// neurons) against spike-by-spike scalar scatters into a plain ring: every cell bitwise
// equal, on every set, for weights of very different magnitudes (so that another order of
// additions would show), several spikes per step and cells hit more than once, N from 1 to
// a lane width + 1 and over several groups of blocks (65, 80), 8-, 16- and 32-bit delays,
// with no arrival and with many arrivals past the trial end (all into the end's slot).
template <typename Real, typename D>
void check_scatter_inputs(cpu::Isa isa) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::uniform_int_distribution<int> e(-30, 10);
  for (uint32_t end : {1000u, 9u})
    for (uint32_t N : {1u, 7u, 15u, 16u, 17u, 33u, 65u, 80u}) {
      const uint32_t rows_in = 5, slots = 32, mask = slots - 1, K = 40;
      std::vector<Real> w(size_t(rows_in) * N);
      std::vector<D> s(w.size());
      for (size_t k = 0; k < w.size(); ++k) {
        w[k] = Real(std::ldexp(u(rng), e(rng)));
        s[k] = D(rng() % 6);  // short delays: many spikes meet in a cell
      }
      std::vector<uint32_t> rows(K);
      std::vector<int32_t> steps(K);
      for (uint32_t k = 0; k < K; ++k) {
        rows[k] = uint32_t(rng() % rows_in);
        steps[k] = int32_t(k / 4);  // 4 spikes per step, non-decreasing
      }
      std::vector<Real> ref(size_t(slots) * N, Real(0));
      const auto scalar = cpu::scalar_kernels<Real, D>();
      for (uint32_t k = 0; k < K; ++k)
        scalar.scatter(ref.data(), w.data() + size_t(rows[k]) * N, s.data() + size_t(rows[k]) * N, N, N, steps[k],
                       mask, end);
      const uint32_t cols = (N + cpu::kXWidth - 1) / cpu::kXWidth * cpu::kXWidth;
      std::vector<Real> x(size_t(slots) * cols, Real(0));
      cpu::kernels_for<Real, D>(isa).scatter_inputs(x.data(), w.data(), s.data(), rows.data(), steps.data(), K, N,
                                                    mask, end);
      for (uint32_t r = 0; r < slots; ++r)
        for (uint32_t j = 0; j < N; ++j) {
          const Real a = ref[size_t(r) * N + j];
          const Real b =
              x[size_t(j / cpu::kXWidth) * slots * cpu::kXWidth + size_t(r) * cpu::kXWidth + j % cpu::kXWidth];
          ASSERT_EQ(std::memcmp(&a, &b, sizeof(Real)), 0)
              << cpu::to_string(isa) << " end " << end << " N " << N << " row " << r << " neuron " << j << ": " << a
              << " vs " << b;
        }
      if (end == 9) {  // the arrivals at steps 9 .. 15 went to slot 9, none to a later slot
        bool at_end = false;
        for (uint32_t j = 0; j < N; ++j) at_end = at_end || ref[size_t(end) * N + j] != Real(0);
        EXPECT_TRUE(at_end) << "N " << N;
        for (uint32_t r = end + 1; r < slots; ++r)
          for (uint32_t j = 0; j < N; ++j) ASSERT_EQ(ref[size_t(r) * N + j], Real(0)) << "row " << r;
      }
    }
}

TEST(Simd, BlockInputDeliveryGivesTheBitsOfSpikeBySpike) {
  for (cpu::Isa isa : {cpu::Isa::Scalar, cpu::Isa::Avx2, cpu::Isa::Avx512}) {
    if (!cpu::isa_supported(isa)) continue;
    check_scatter_inputs<float, uint8_t>(isa);
    check_scatter_inputs<float, uint16_t>(isa);
    check_scatter_inputs<float, int32_t>(isa);
    check_scatter_inputs<double, uint8_t>(isa);
    check_scatter_inputs<double, uint16_t>(isa);
    check_scatter_inputs<double, int32_t>(isa);
  }
}

// The neuron steps (NeuronFn) on every set against the scalar set: v, i, i0 and both cells
// bitwise equal, the same neurons at threshold, for N from 1 to a lane width + 1 and over
// several blocks, with and without input cells, on values of every kind (zeros of both
// signs, NaN, infinities, subnormals, V exactly at threshold).
template <typename Real>
void check_neuron(cpu::Isa isa) {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(-2.0, 2.0);
  // Constants of a real neuron, and ones under which V = 0.5 v + I0 exactly: every third
  // neuron then ends its step exactly at threshold (v = 2, no current).
  StepConstants<Real> exact = make_step_constants<Real>(20.0, 5.0, 1.0, 1.0);
  exact.alpha = exact.beta = Real(0.5), exact.c = Real(2);
  for (const auto& k : {make_step_constants<Real>(20.0, 5.0, 1.0, 1.0), exact})
    for (uint32_t N : {1u, 15u, 16u, 17u, 33u, 70u})
      for (bool with_x : {false, true}) {
        const Real special[] = {Real(0), -Real(0), std::numeric_limits<Real>::quiet_NaN(),
                                std::numeric_limits<Real>::infinity(), -std::numeric_limits<Real>::infinity(),
                                std::numeric_limits<Real>::denorm_min(), k.theta};
        auto draw = [&] { return rng() % 5 == 0 ? special[rng() % 7] : Real(u(rng)); };
        const size_t xstride = 3 * cpu::kXWidth;  // blocks of the input cells xstride apart
        const uint32_t blocks = (N + cpu::kXWidth - 1) / cpu::kXWidth;
        std::vector<Real> v(N), i(N), cell(N), x(blocks * xstride, Real(0));
        for (uint32_t j = 0; j < N; ++j) {
          v[j] = draw(), i[j] = draw(), cell[j] = draw();
          x[(j / cpu::kXWidth) * xstride + j % cpu::kXWidth] = draw();
          if (j % 3 == 0 && k.alpha == Real(0.5)) {
            v[j] = Real(2), i[j] = cell[j] = Real(0);
            x[(j / cpu::kXWidth) * xstride + j % cpu::kXWidth] = Real(0);
          }
        }
        auto v2 = v, i2 = i, cell2 = cell, x2 = x;
        std::vector<Real> i0(N), i02(N);
        std::vector<uint32_t> above(N), above2(N);
        const uint32_t n1 = cpu::neuron_for<Real>(cpu::Isa::Scalar)(k, v.data(), i.data(), cell.data(),
                                                                   with_x ? x.data() : nullptr, xstride, i0.data(), N,
                                                                   above.data());
        const uint32_t n2 = cpu::neuron_for<Real>(isa)(k, v2.data(), i2.data(), cell2.data(),
                                                       with_x ? x2.data() : nullptr, xstride, i02.data(), N,
                                                       above2.data());
        const std::string what = std::string(cpu::to_string(isa)) + (sizeof(Real) == 8 ? " float64" : " float32") +
                                 " N " + std::to_string(N) + (with_x ? " with input cells" : "");
        auto same = [](const std::vector<Real>& a, const std::vector<Real>& b) {
          return std::memcmp(a.data(), b.data(), a.size() * sizeof(Real)) == 0;
        };
        EXPECT_TRUE(same(v, v2) && same(i, i2) && same(i0, i02)) << what << ": neuron state differs";
        EXPECT_TRUE(same(cell, cell2) && same(x, x2)) << what << ": cells differ";
        ASSERT_EQ(n1, n2) << what << ": neurons at threshold";
        if (k.alpha == Real(0.5)) {
          EXPECT_GE(n1, (N + 2) / 3) << what << ": the neurons exactly at threshold";
        }
        above.resize(n1), above2.resize(n2);
        EXPECT_EQ(above, above2) << what;
        for (Real c : cell) EXPECT_EQ(c, Real(0)) << what << ": a cell was not cleared";
        // Without the list, the same state.
        cpu::neuron_for<Real>(isa)(k, v2.data(), i2.data(), cell2.data(), with_x ? x2.data() : nullptr, xstride,
                                   i02.data(), N, nullptr);
        cpu::neuron_for<Real>(cpu::Isa::Scalar)(k, v.data(), i.data(), cell.data(), with_x ? x.data() : nullptr,
                                                xstride, i0.data(), N, nullptr);
        EXPECT_TRUE(same(v, v2) && same(i, i2) && same(i0, i02)) << what << ": second step differs";
      }
}

TEST(Simd, NeuronStepsGiveTheScalarBits) {
  bool any = false;
  for (cpu::Isa isa : {cpu::Isa::Avx2, cpu::Isa::Avx512}) {
    if (!cpu::isa_supported(isa)) continue;
    any = true;
    check_neuron<float>(isa);
    check_neuron<double>(isa);
  }
  if (!any) GTEST_SKIP() << "this CPU has no vector instruction set the engine uses";
}

// Two input populations, both projecting to the hidden layer and one to the output as well:
// input spikes are then delivered spike by spike (not one block call per population); every
// set gives the scalar bits.
TEST(Simd, MixedInputWiringGivesTheScalarBits) {
  Network net = make_net({17, 3, true});
  net.pops.push_back({"in2", PopKind::Input, 3});
  for (auto [name, post] : {std::pair{"in2_h", 1u}, std::pair{"in2_out", 2u}}) {
    Connection c;
    c.name = name;
    c.pre = 3;
    c.post = post;
    c.max_delay_ms = 20.0;
    c.weight_init = {InitSpec::Dist::Normal, 0.8, 0.6};
    c.delay_init = {InitSpec::Dist::Uniform, 0.0, 20.0};
    net.conns.push_back(c);
  }
  net.finalize();
  for (Precision prec : {Precision::Float32, Precision::Float64}) {
    const Outcome ref = run(net, prec, "scalar");
    for (cpu::Isa isa : {cpu::Isa::Avx2, cpu::Isa::Avx512})
      if (cpu::isa_supported(isa))
        expect_same(ref, run(net, prec, cpu::to_string(isa)), std::string(cpu::to_string(isa)) + " mixed inputs");
  }
}

TEST(Simd, UnknownOrUnsupportedSetIsRefused) {
  const Network net = make_net({4, 2, false});
  EngineOptions opt;
  opt.simd = "sse9";
  EXPECT_THROW(make_engine(net, opt), Error);
  if (!cpu::isa_supported(cpu::Isa::Avx512)) {
    opt.simd = "avx512";
    EXPECT_THROW(make_engine(net, opt), Error);
  }
}

// The kernels' arrays start on a cache line whatever their size, also after they grow.
template <typename T, size_t kAlign>
void expect_aligned() {
  std::vector<T, AlignedAllocator<T, kAlign>> v;
  for (size_t n : {size_t(0), size_t(1), size_t(15), size_t(17), size_t(1000), size_t(100000)}) {
    v.assign(n, T(1));
    EXPECT_EQ(reinterpret_cast<uintptr_t>(v.data()) % kAlign, 0u) << n << " values of " << sizeof(T) << " bytes";
    v.push_back(T(2));
    EXPECT_EQ(reinterpret_cast<uintptr_t>(v.data()) % kAlign, 0u) << n + 1 << " values after a push_back";
    EXPECT_EQ(v.back(), T(2));
  }
}

TEST(Simd, KernelArraysStartOnALine) {
  expect_aligned<float, 64>();
  expect_aligned<double, 64>();
  expect_aligned<uint8_t, 64>();
  expect_aligned<int64_t, 4096>();
}

}  // namespace
