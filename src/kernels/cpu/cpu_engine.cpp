// The multi-threaded CPU backend: MODEL.md §2-§3 for every sample of a batch, samples in
// parallel on OpenMP threads. Per-thread memory is O(neurons x max delay) (arrival and
// adjoint-history rings) and the tape is O(spikes): nothing is kept per time step and neuron.
//
// Determinism: a sample's computation, its gradient included, is sequential;
// the samples' gradients are summed exactly (core/exact_sum.hpp), so the result does not
// depend on which thread ran which sample, nor on how a batch is split over ranks.
#include "kernels/cpu/cpu_engine.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "core/aligned_vector.hpp"
#include "core/error.hpp"
#include "core/model_math.hpp"
#include "kernels/common.hpp"
#include "kernels/cpu/simd.hpp"

namespace delayprop {
namespace {

// Sample gradients kept per thread before they are folded into the exact sum together:
// the sum (6 int64 per parameter) is then streamed once per this many samples; 64 bytes
// per parameter (8 float64 or 16 float32 samples).
template <typename Real>
constexpr uint32_t kFoldBlock = 64 / sizeof(Real);
static_assert(kFoldBlock<float> <= cpu::kFoldMax);

// The sample-gradient buffer's two regions: the gradients of connections from input
// populations into full histories, written whole by input_gradients, and all the others,
// accumulated spike by spike.
enum GradRegion { kWritten = 0, kAccumulated = 1 };

// Input spikes are delivered for a block of steps at a time (their arrivals do not depend on
// the network state), neuron block by neuron block, so that a block's input-ring rows stay in
// cache while all the block's spikes are added, and the input ring is swept once per block,
// not once per step. The input ring has room for at least kXStepsMin steps of arrivals ahead
// of the longest delay.
constexpr uint32_t kXStepsMin = 32;

template <typename Real>
struct TapeEntry {
  int32_t step;
  uint32_t neuron;
  Real i0_minus_v;  // the jump's denominator, recorded at the spike (MODEL.md §3)
};

template <typename Real>
class CpuEngine final : public Engine {
 public:
  CpuEngine(const Network& net, const EngineOptions& opt) : net_(net), opt_(opt) {
    require(opt.threads >= 1, "engine: threads must be >= 1, got ", opt.threads);
    isa_ = cpu::resolve_isa(opt.simd);
    const size_t np = net_.pops.size();
    k_.resize(np);
    out_conns_.resize(np);
    ring_slots_.assign(np, 0);
    ring_stride_.assign(np, 0);
    x_slots_.assign(np, 0);
    hist_rows_.assign(np, 0);
    hist_mask_.assign(np, 0);
    full_hist_.assign(np, 0);
    has_input_.assign(np, 0);
    for (const auto& c : net_.conns)
      if (net_.pops[c.pre].kind == PopKind::Input) has_input_[c.post] = 1;
    // Targets of input populations keep a full history (input gradients block by block after
    // the time loop) while the extra memory stays within a quarter of the thread's sample-gradient
    // buffer, so that the engine grows by a bounded share; otherwise a ring (step by step).
    double extra_budget = double(kFoldBlock<Real>) * double(net_.n_params) * sizeof(Real) / 4;
    for (const auto& c : net_.conns) {
      if (net_.pops[c.pre].kind != PopKind::Input || full_hist_[c.post]) continue;
      const uint32_t smax = uint32_t(net_.max_incoming_delay_steps(c.post));
      const double extra = (double(net_.n_steps) + 1 - ring_slots_for(smax + 2)) * net_.pops[c.post].size * 2 *
                           sizeof(Real);
      if (extra > extra_budget) continue;
      extra_budget -= std::max(extra, 0.0);
      full_hist_[c.post] = 1;
      any_full_hist_ = true;
    }
    for (const auto& c : net_.conns)
      if (net_.pops[c.pre].kind == PopKind::Input && !full_hist_[c.post]) any_input_ring_ = true;
    for (uint32_t p = 0; p < np; ++p) {
      const auto& pop = net_.pops[p];
      if (pop.kind != PopKind::Input) {
        k_[p] = make_step_constants<Real>(pop.tau_m, pop.tau_s, pop.theta, net_.dt);
        const uint32_t smax = uint32_t(net_.max_incoming_delay_steps(p));
        ring_slots_[p] = ring_slots_for(smax + 1);
        ring_stride_[p] = cpu::ring_stride(pop.size, sizeof(Real));
        if (has_input_[p]) {
          // Spikes of steps n0 .. n0 + L - 1 delivered before step n0 arrive at rows up to
          // n0 + L + smax, while row n0 is still to be read: L + smax + 1 <= slots.
          x_slots_[p] = ring_slots_for(smax + 1 + kXStepsMin);
          x_steps_ = std::min(x_steps_, x_slots_[p] - smax - 1);
        }
        if (full_hist_[p]) {
          // Every step and a zero row N_T that the arrivals at or after the trial end read
          // (cpu::hist_row), so that the input spikes' gradients can be computed after the
          // time loop, block by block.
          hist_rows_[p] = net_.n_steps + 1;
          hist_mask_[p] = ~uint32_t(0);
        } else {
          hist_rows_[p] = ring_slots_for(smax + 2) + 1;  // and the zero row (cpu::hist_row)
          hist_mask_[p] = hist_rows_[p] - 2;
        }
      }
    }
    // The vector kernels index rings and histories with 32-bit lanes.
    for (uint32_t p = 0; p < np; ++p)
      if (uint64_t(hist_rows_[p]) * x_cols(p) * 2 >= (uint64_t(1) << 31) ||
          uint64_t(x_slots_[p]) * x_cols(p) >= (uint64_t(1) << 31) ||
          uint64_t(ring_slots_[p]) * ring_stride_[p] >= (uint64_t(1) << 31))
        isa_ = cpu::Isa::Scalar;
    for (uint32_t c = 0; c < net_.conns.size(); ++c) {
      out_conns_[net_.conns[c].pre].push_back(c);
      // Delays in steps in the narrowest of 8, 16 and 32 bits that holds every connection's
      // max delay: less to read per spike.
      if (net_.conns[c].max_delay_steps > 255) delay_bits_ = std::max(delay_bits_, 16);
      if (net_.conns[c].max_delay_steps > 65535) delay_bits_ = 32;
    }
    distinct_targets_.assign(np, 1);
    for (uint32_t p = 0; p < np; ++p)
      for (size_t a = 0; a < out_conns_[p].size(); ++a)
        for (size_t b = 0; b < a; ++b)
          if (net_.conns[out_conns_[p][a]].post == net_.conns[out_conns_[p][b]].post) distinct_targets_[p] = 0;
    fold_ = cpu::fold_for<Real>(isa_);
    round_ = cpu::round_for(isa_);
    reduce_ = cpu::reduce_for<Real>(isa_);
    adjoint_ = cpu::adjoint_for<Real>(isa_);
    neuron_ = cpu::neuron_for<Real>(isa_);
    s8_.kernels = cpu::kernels_for<Real, uint8_t>(isa_);
    s16_.kernels = cpu::kernels_for<Real, uint16_t>(isa_);
    s32_.kernels = cpu::kernels_for<Real, int32_t>(isa_);
    w_.resize(net_.conns.size());
    with_delays([&](auto& d) { d.steps.resize(net_.conns.size()); });
    sumexp_ = make_sumexp_tables<Real>(net_);
    input_map_ = input_channel_map(net_);
    x_conn_.assign(np, -1);
    for (const auto& pop : net_.pops) n_input_pops_ += pop.kind == PopKind::Input;
    for (uint32_t p = 0; p < np; ++p) {
      int32_t only = -1, count = 0;
      for (uint32_t c = 0; c < net_.conns.size(); ++c)
        if (net_.conns[c].post == p && net_.pops[net_.conns[c].pre].kind == PopKind::Input) only = int32_t(c), ++count;
      if (n_input_pops_ == 1 && count == 1) x_conn_[p] = only;
    }
    // A connection's weights and then its delays (contiguous parameters) in one region.
    for (uint32_t c = 0; c < net_.conns.size(); ++c) {
      const auto& conn = net_.conns[c];
      const size_t n = conn.n_synapses();
      require(conn.delay_offset == conn.weight_offset + n, "engine: connection ", c,
              "'s delay parameters must follow its weights");
      const bool written = net_.pops[conn.pre].kind == PopKind::Input && full_hist_[conn.post];
      const GradRegion r = written ? kWritten : kAccumulated;
      grad_at_.push_back({r, region_size_[r]});
      fold_ranges_[r].push_back({conn.weight_offset, region_size_[r], 2 * n});
      region_size_[r] += 2 * n;
    }
    // The full history of an input's target costs memory; the accumulated region pays it back
    // by holding half as many samples (folded twice as often: 1 % of the time at SHD shapes).
    fold_block_[kWritten] = kFoldBlock<Real>;
    fold_block_[kAccumulated] = any_full_hist_ ? kFoldBlock<Real> / 2 : kFoldBlock<Real>;
    ws_.resize(size_t(opt_.threads));
  }

  void forward(std::span<const double> params, const SpikeBatch& batch, ForwardOutputs& out) override {
    check_params(net_, params);
    delayprop::check_batch(net_, batch);
    load_params(params);
    batch_ = batch;
    const uint32_t B = batch.n_samples;
    const uint32_t K = net_.pops[net_.output].size;
    out.n_samples = B;
    out.n_outputs = K;
    out.readout.assign(size_t(B) * K, 0.0);
    out.first_spike_step.assign(size_t(B) * K, -1);
    max_step_.assign(size_t(B) * K, -1);
    tapes_.resize(B);

    const int T = opt_.threads;
    std::vector<std::vector<std::vector<uint32_t>>> counts(T);
    std::vector<uint64_t> hidden(T, 0), events(T, 0);
    ThreadErrors errors;  // no exception may leave the parallel region
#pragma omp parallel for num_threads(T) schedule(dynamic, 1)
    for (int64_t b = 0; b < int64_t(B); ++b) {
      errors.run([&] {
        const int t = omp_get_thread_num();
        if (counts[t].empty()) {
          counts[t].resize(net_.pops.size());
          for (size_t p = 0; p < net_.pops.size(); ++p)
            if (net_.pops[p].kind == PopKind::LIF) counts[t][p].assign(net_.pops[p].size, 0);
        }
        forward_sample(uint32_t(b), ws_[t], out, counts[t], hidden[t], events[t]);
      });
    }
    errors.rethrow("forward");
    out.spike_counts.assign(net_.pops.size(), {});
    for (size_t p = 0; p < net_.pops.size(); ++p) {
      if (net_.pops[p].kind != PopKind::LIF) continue;
      out.spike_counts[p].assign(net_.pops[p].size, 0);
      for (int t = 0; t < T; ++t)
        if (!counts[t].empty())
          for (size_t j = 0; j < counts[t][p].size(); ++j) out.spike_counts[p][j] += counts[t][p][j];
    }
    out.hidden_spikes = 0;
    out.synaptic_events = 0;
    for (int t = 0; t < T; ++t) {
      out.hidden_spikes += hidden[t];
      out.synaptic_events += events[t];
    }
    out.input_spikes = batch.steps.size();
    first_spike_step_ = out.first_spike_step;
    out.spikes.clear();
    if (out.record_spikes) {
      out.spikes.resize(B);
      for (uint32_t b = 0; b < B; ++b) {
        out.spikes[b].resize(net_.pops.size());
        for (size_t p = 0; p < net_.pops.size() && p < tapes_[b].size(); ++p)
          if (net_.pops[p].kind == PopKind::LIF)
            for (const auto& e : tapes_[b][p]) out.spikes[b][p].emplace_back(e.step, e.neuron);
      }
    }
  }

  void backward_exact(std::span<const double> params, const BackwardInputs& in, ExactVector& grad) override {
    const uint32_t B = batch_.n_samples;
    check_backward_inputs(net_, B, in);
    (void)params;  // the Real copies loaded by forward() are used

    const size_t P = net_.n_params;
    const int T = opt_.threads;
    std::vector<uint8_t> in_range(size_t(T), 1);
    ThreadErrors errors;  // no exception may leave the parallel region
#pragma omp parallel num_threads(T)
    {
      const int t = omp_get_thread_num();
      Workspace& ws = ws_[t];
      // Thread 0 sums into the caller's vector (a training step keeps it from batch to batch:
      // no new pages, no second copy), the others into their own.
      ExactVector& sum = t == 0 ? grad : ws.grad_sum;
      uint32_t block[2], pending[2] = {0, 0};  // per region: samples per fold, samples not yet folded
      for (int r : {kWritten, kAccumulated}) block[r] = std::min(fold_block_[r], std::max<uint32_t>(B, 1));
      errors.run([&] {
        ws.region_values = block[kWritten] * region_size_[kWritten];
        const size_t n = ws.region_values + block[kAccumulated] * region_size_[kAccumulated];
        if (ws.sample_grads.size() < n) ws.sample_grads.assign(n, Real(0));
        sum.assign_zero(P);
      });
      auto fold = [&](int r) {
        for (const auto& f : fold_ranges_[r])
          if (!fold_(ws.region(r) + f.at, pending[r], region_size_[r], f.count,
                     sum.digits().data() + f.param * ExactSum::kDigits))
            in_range[t] = 0;
        pending[r] = 0;
      };
#pragma omp for schedule(dynamic, 1)
      for (int64_t b = 0; b < int64_t(B); ++b) {
        errors.run([&] {
          const SampleGrads g{{ws.region(kWritten) + pending[kWritten] * region_size_[kWritten],
                               ws.region(kAccumulated) + pending[kAccumulated] * region_size_[kAccumulated]}};
          backward_sample(uint32_t(b), ws, in, g);
          for (int r : {kWritten, kAccumulated})
            if (++pending[r] == block[r]) fold(r);
        });
      }
      errors.run([&] {
        for (int r : {kWritten, kAccumulated})
          if (pending[r]) fold(r);
      });
#pragma omp barrier
      // The other threads' sums added into grad, each thread a slice of the digits (integer
      // additions: any order gives the same sums), not by one thread while the others wait.
      const int team = omp_get_num_threads();
      const size_t n_digits = P * ExactSum::kDigits;
      bool have_all = grad.digits().size() == n_digits;  // not when an allocation failed (rethrown below)
      for (int u = 1; u < team; ++u) have_all = have_all && ws_[u].grad_sum.digits().size() == n_digits;
      if (have_all) {
        int64_t* dst = grad.digits().data();
        const size_t k0 = n_digits * size_t(t) / size_t(team), k1 = n_digits * size_t(t + 1) / size_t(team);
        for (int u = 1; u < team; ++u) {
          const int64_t* src = ws_[u].grad_sum.digits().data();
          for (size_t k = k0; k < k1; ++k) dst[k] += src[k];
        }
      }
    }
    errors.rethrow("backward");
    for (int t = 0; t < T; ++t)
      require(in_range[t], "backward: a sample's gradient is not finite or outside the exact-sum range (|g| >= 2^",
              ExactSum::kTopExp, ")");
    zero_frozen_gradients(net_, grad);
  }

  size_t round_exact(const ExactVector& sums, std::span<double> out) override {
    const size_t n = sums.size();
    const int T = opt_.threads;
    if (T == 1) return sums.round_to(out, 0, n, round_);
    std::vector<size_t> bad(size_t(T), n);
#pragma omp parallel num_threads(T)
    {
      const int t = omp_get_thread_num(), team = omp_get_num_threads();
      bad[size_t(t)] = sums.round_to(out, n * size_t(t) / size_t(team), n * size_t(t + 1) / size_t(team), round_);
    }
    return *std::min_element(bad.begin(), bad.end());
  }

  size_t memory_bytes() const override {
    size_t bytes = 0;
    for (const auto& ws : ws_)
      for (const auto* vv : {&ws.v, &ws.i, &ws.i0, &ws.ring, &ws.xring, &ws.lv, &ws.li, &ws.hist})
        for (const auto& v : *vv) bytes += v.capacity() * sizeof(Real);
    for (const auto& t : tapes_)
      for (const auto& p : t) bytes += p.capacity() * sizeof(TapeEntry<Real>);
    for (const auto& ws : ws_)
      bytes += (ws.sample_grads.capacity() + ws.grad_scratch.capacity()) * sizeof(Real) +
               ws.grad_sum.digits().size() * sizeof(int64_t);
    for (const auto& w : w_) bytes += w.capacity() * sizeof(Real);
    for (const auto& s : s8_.steps) bytes += s.capacity() * sizeof(uint8_t);  // only one set is not empty
    for (const auto& s : s16_.steps) bytes += s.capacity() * sizeof(uint16_t);
    for (const auto& s : s32_.steps) bytes += s.capacity() * sizeof(int32_t);
    return bytes;
  }

 private:
  // One sample's gradient in the two regions of the buffer (GradRegion).
  struct SampleGrads {
    Real* region[2];
  };

  // The arrays the kernels read and write by whole registers start on a cache line
  // (LineVector): with malloc's 16-byte alignment every 64-byte access of the input-gradient
  // scratch was split over two lines (backward 7 % slower at 14 spikes/neuron).
  struct Workspace {
    std::vector<LineVector<Real>> v, i, ring;  // forward, per population
    // Arrivals from input spikes, apart from the others (MODEL.md §2.3): x_slots_ rows in
    // blocks of kXWidth neurons (SynapseKernels::scatter_inputs).
    std::vector<LineVector<Real>> xring;
    std::vector<LineVector<Real>> i0;          // I at the start of the step, per population
    std::vector<std::vector<uint8_t>> fired;   // single-spike populations: spiked already
    std::vector<uint32_t> above;               // neurons at or above threshold in a step
    bool rings_clean = true;                   // ring and xring all zero (new, or a sample ended)
    std::vector<LineVector<Real>> lv, li;      // backward, per population
    // Adjoint history H[slot][neuron] = (lambda_V, lambda_I) interleaved, so that a gather
    // touches one cache line per synapse, not two; in blocks of kXWidth neurons
    // (cpu::hist_cell).
    std::vector<LineVector<Real>> hist;
    std::vector<uint32_t> in_pre;    // a sample's spikes of one input population (neurons) ...
    std::vector<int32_t> in_steps;   // ... and their steps, in batch order
    LineVector<Real> grad_scratch;   // SynapseKernels::gradients' scratch (zero between calls)
    // Gradients of the samples not yet folded, region by region (fold_block_ samples each);
    // a sample's gradient is summed in the engine precision (MODEL.md §3.3), then folded
    // exactly.
    LineVector<Real> sample_grads;
    // The written region first, on a line boundary so that its rows can be written by whole
    // lines (SynapseKernels::gradients); the accumulated region after its region_values values.
    size_t region_values = 0;
    Real* region(int r) { return sample_grads.data() + (r == kAccumulated ? region_values : 0); }
    ExactVector grad_sum;          // the exact sum of this thread's samples' gradients (not thread 0's)
  };

  void load_params(std::span<const double> params) {
    for (size_t c = 0; c < net_.conns.size(); ++c) {
      const auto& conn = net_.conns[c];
      const size_t n = conn.n_synapses();
      w_[c].resize(n);
      for (size_t k = 0; k < n; ++k) w_[c][k] = Real(params[conn.weight_offset + k]);
      with_delays([&](auto& d) {
        auto& s = d.steps[c];
        using D = typename std::decay_t<decltype(s)>::value_type;
        s.resize(n);
        for (size_t k = 0; k < n; ++k)
          s[k] = D(delay_steps(params[conn.delay_offset + k], net_.dt, conn.max_delay_steps));
      });
    }
  }

  void ensure_forward(Workspace& ws) {
    if (!ws.v.empty()) return;
    const size_t np = net_.pops.size();
    ws.v.resize(np);
    ws.i.resize(np);
    ws.ring.resize(np);
    ws.xring.resize(np);
    ws.i0.resize(np);
    ws.fired.resize(np);
    for (size_t p = 0; p < np; ++p) {
      if (net_.pops[p].kind == PopKind::Input) continue;
      const size_t N = net_.pops[p].size;
      ws.v[p].resize(N);
      ws.i[p].resize(N);
      ws.ring[p].resize(size_t(ring_slots_[p]) * ring_stride_[p]);
      if (has_input_[p]) ws.xring[p].resize(size_t(x_slots_[p]) * x_cols(p));
      ws.i0[p].resize(N);
      if (net_.pops[p].single_spike) ws.fired[p].resize(N);
      ws.above.resize(std::max<size_t>(ws.above.size(), N));
    }
  }

  void ensure_backward(Workspace& ws) {
    if (!ws.lv.empty()) return;
    const size_t np = net_.pops.size();
    ws.lv.resize(np);
    ws.li.resize(np);
    ws.hist.resize(np);
    for (size_t p = 0; p < np; ++p) {
      if (net_.pops[p].kind == PopKind::Input) continue;
      const size_t N = net_.pops[p].size;
      ws.lv[p].resize(N);
      ws.li[p].resize(N);
      ws.hist[p].resize(size_t(hist_rows_[p]) * x_cols(p) * 2);
    }
  }

  // Scatters the K spikes of LIF population pre in step n (entries of its tape) into the
  // rings: connection by connection, spikes in order within each (forward 2-4 % faster at
  // 42 spikes/neuron than spike by spike with the connections in turn; prefetching the next
  // spike's rows, worth 1 % in that order, gives nothing in this one). Each cell gets its
  // additions in the same order either way when no two of the connections share a target;
  // otherwise spike by spike.
  uint64_t deliver_step(Workspace& ws, uint32_t pre, const TapeEntry<Real>* spikes, size_t K, int32_t n) {
    uint64_t events = 0;
    auto scatter = [&](uint32_t c, uint32_t i) {
      const auto& conn = net_.conns[c];
      const uint32_t N = conn.n_post;
      const size_t row = size_t(i) * N;
      with_delays([&](const auto& d) {
        d.kernels.scatter(ws.ring[conn.post].data(), w_[c].data() + row, d.steps[c].data() + row, N,
                          ring_stride_[conn.post], n, ring_slots_[conn.post] - 1, net_.n_steps);
      });
      events += N;
    };
    if (distinct_targets_[pre]) {
      for (uint32_t c : out_conns_[pre])
        for (size_t k = 0; k < K; ++k) scatter(c, spikes[k].neuron);
    } else {
      for (size_t k = 0; k < K; ++k)
        for (uint32_t c : out_conns_[pre]) scatter(c, spikes[k].neuron);
    }
    return events;
  }

  // Columns of population p's input ring: its size rounded up to whole neuron blocks.
  size_t x_cols(uint32_t p) const {
    return (size_t(net_.pops[p].size) + cpu::kXWidth - 1) / cpu::kXWidth * cpu::kXWidth;
  }

  // Adds the arrivals of the input spikes of steps < n_end, from batch position in on, to the
  // input rings (every cell gets its additions in the order of step-by-step delivery: spikes
  // in batch order, each spike's connections in order). Advances in; returns the events.
  uint64_t deliver_inputs(Workspace& ws, uint64_t& in, uint64_t in_end, int32_t n_end) {
    const uint64_t e0 = in;
    while (in < in_end && batch_.steps[in] < n_end) ++in;
    uint64_t events = 0;
    for (uint32_t p = 0; p < net_.pops.size(); ++p) {
      if (!has_input_[p]) continue;
      const uint32_t N = net_.pops[p].size;
      const uint32_t mask = x_slots_[p] - 1;
      Real* x = ws.xring[p].data();
      auto scatter = [&](uint32_t c, const uint32_t* rows, const int32_t* steps, uint32_t K) {
        with_delays([&](const auto& d) {
          d.kernels.scatter_inputs(x, w_[c].data(), d.steps[c].data(), rows, steps, K, N, mask, net_.n_steps);
        });
        events += uint64_t(K) * N;
      };
      if (x_conn_[p] >= 0) {
        // The only input population projects to p through one connection, and the channels
        // are its neurons: the batch's channels are the weight rows.
        if (in > e0)
          scatter(uint32_t(x_conn_[p]), batch_.channels.data() + e0, batch_.steps.data() + e0, uint32_t(in - e0));
        continue;
      }
      for (uint64_t e = e0; e < in; ++e) {
        const InputNeuron src = input_map_[batch_.channels[e]];
        for (uint32_t c : out_conns_[src.pop])
          if (net_.conns[c].post == p) scatter(c, &src.neuron, batch_.steps.data() + e, 1);
      }
    }
    return events;
  }

  void forward_sample(uint32_t b, Workspace& ws, ForwardOutputs& out, std::vector<std::vector<uint32_t>>& counts,
                      uint64_t& hidden, uint64_t& events) {
    ensure_forward(ws);
    const size_t np = net_.pops.size();
    auto& tape = tapes_[b];
    tape.resize(np);
    for (size_t p = 0; p < np; ++p) {
      tape[p].clear();
      if (net_.pops[p].kind == PopKind::Input) continue;
      std::fill(ws.v[p].begin(), ws.v[p].end(), Real(0));
      std::fill(ws.i[p].begin(), ws.i[p].end(), Real(0));
      if (!ws.rings_clean) {
        std::fill(ws.ring[p].begin(), ws.ring[p].end(), Real(0));
        std::fill(ws.xring[p].begin(), ws.xring[p].end(), Real(0));
      }
      std::fill(ws.fired[p].begin(), ws.fired[p].end(), uint8_t(0));
    }
    ws.rings_clean = false;  // until the sample ends normally
    const uint32_t K = net_.pops[net_.output].size;
    const Readout ro = net_.pops[net_.output].readout;
    double* y = out.readout.data() + size_t(b) * K;
    int32_t* first = out.first_spike_step.data() + size_t(b) * K;
    int32_t* nstar = max_step_.data() + size_t(b) * K;
    std::vector<Real> ymax(K, -std::numeric_limits<Real>::infinity());
    std::vector<Real> yacc(K, Real(0));
    uint64_t in = batch_.offsets[b];
    const uint64_t in_end = batch_.offsets[b + 1];

    for (int32_t n = 0; n < int32_t(net_.n_steps); ++n) {
      // Input spikes of step n are due now (their arrivals start at row n + 1); those up to
      // step n + x_steps_ - 1 go along.
      if (in < in_end && batch_.steps[in] <= n)
        events += deliver_inputs(ws, in, in_end, int32_t(std::min<uint64_t>(uint64_t(n) + x_steps_, net_.n_steps)));
      for (uint32_t p = 0; p < np; ++p) {
        const auto& pop = net_.pops[p];
        if (pop.kind == PopKind::Input) continue;
        const auto& k = k_[p];
        const uint32_t N = pop.size;
        Real* V = ws.v[p].data();
        Real* I = ws.i[p].data();
        Real* slot = ws.ring[p].data() + size_t(uint32_t(n) & (ring_slots_[p] - 1)) * ring_stride_[p];
        // Row n of the input ring: kXWidth cells per neuron block, blocks xstride apart.
        Real* xslot = has_input_[p] ? ws.xring[p].data() + size_t(uint32_t(n) & (x_slots_[p] - 1)) * cpu::kXWidth
                                    : nullptr;
        const size_t xstride = size_t(x_slots_[p]) * cpu::kXWidth;
        Real* i0 = ws.i0[p].data();
        if (pop.kind == PopKind::LI) {
          neuron_(k, V, I, slot, xslot, xstride, i0, N, nullptr);
          if (p == net_.output)
            for (uint32_t j = 0; j < K; ++j)
              accumulate_readout(ro, n, V[j], sumexp_.weight[n], net_.n_steps, yacc[j], ymax[j], nstar[j]);
          continue;
        }
        const size_t tape_start = tape[p].size();
        if (pop.single_spike) {
          // A neuron that spiked stays at V = 0: every neuron goes through lif_fire.
          neuron_(k, V, I, slot, xslot, xstride, i0, N, nullptr);
          uint8_t* fired = ws.fired[p].data();
          for (uint32_t j = 0; j < N; ++j) {
            Real x = Real(0);
            if (lif_fire(k, i0[j], V[j], fired + j, x)) tape[p].push_back({n, j, x});
          }
        } else {
          // Only the neurons at or above threshold.
          uint32_t* above = ws.above.data();
          const uint32_t n_above = neuron_(k, V, I, slot, xslot, xstride, i0, N, above);
          for (uint32_t a = 0; a < n_above; ++a) {
            const uint32_t j = above[a];
            Real x = Real(0);
            if (lif_fire(k, i0[j], V[j], nullptr, x)) tape[p].push_back({n, j, x});
          }
        }
        for (size_t e = tape_start; e < tape[p].size(); ++e) {
          const uint32_t j = tape[p][e].neuron;
          ++counts[p][j];
          if (p == net_.output && first[j] < 0) first[j] = n;
        }
        hidden += tape[p].size() - tape_start;
      }
      // Deliver every spike of step n of the populations, in order (the input spikes were
      // delivered ahead, by deliver_inputs).
      for (uint32_t p = 0; p < np; ++p) {
        if (net_.pops[p].kind != PopKind::LIF || out_conns_[p].empty()) continue;
        size_t e0 = tape[p].size();
        while (e0 > 0 && tape[p][e0 - 1].step == n) --e0;
        if (e0 < tape[p].size()) events += deliver_step(ws, p, tape[p].data() + e0, tape[p].size() - e0, n);
      }
    }
    for (uint32_t k = 0; k < K; ++k) y[k] = final_readout(ro, yacc[k], ymax[k], first[k], net_.dt, net_.trial_ms());
    clear_rings_after_trial(ws);
  }

  // Every ring cell is cleared by the step that consumes it, but for the slot of step N_T,
  // which takes the arrivals past the trial end (cpu::arrival_row): clearing it leaves the
  // rings zero for the next sample, which then need not clear them whole (4 MiB per sample
  // at max delay 1024).
  void clear_rings_after_trial(Workspace& ws) {
    for (uint32_t p = 0; p < net_.pops.size(); ++p) {
      if (net_.pops[p].kind == PopKind::Input) continue;
      const size_t N = net_.pops[p].size;
      std::fill_n(ws.ring[p].data() + size_t(net_.n_steps & (ring_slots_[p] - 1)) * ring_stride_[p], N, Real(0));
      if (!has_input_[p]) continue;
      const size_t block = size_t(x_slots_[p]) * cpu::kXWidth, row = net_.n_steps & (x_slots_[p] - 1);
      for (size_t b = 0; b < x_cols(p) / cpu::kXWidth; ++b)
        std::fill_n(ws.xring[p].data() + b * block + row * cpu::kXWidth, cpu::kXWidth, Real(0));
    }
    ws.rings_clean = true;
  }

  // (a)+(d) for one spike of neuron i of population pre at step n: gathers the adjoint
  // history of every target at the arrival step, returns R (summed in the canonical order of
  // MODEL.md §3.2: 16 lanes over all outgoing connections, then one fixed tree) and
  // accumulates dL/dw, dL/dd. Arrivals at or after the trial end read the history's zero
  // row (cpu::hist_row).
  Real gather(Workspace& ws, uint32_t pre, uint32_t i, int32_t n, const SampleGrads& grads) {
    alignas(64) Real lanes[cpu::kLanes] = {};
    for (uint32_t c : out_conns_[pre]) gather_conn(ws, c, i, n, grads, lanes);
    return reduce_(lanes);
  }

  // One connection's part of gather().
  void gather_conn(Workspace& ws, uint32_t c, uint32_t i, int32_t n, const SampleGrads& grads, Real* lanes) {
    const auto& conn = net_.conns[c];
    const uint32_t N = conn.n_post;
    const uint32_t mask = hist_mask_[conn.post];
    const Real* hist = ws.hist[conn.post].data();
    const Real tau_s = k_[conn.post].tau_s;
    const size_t row = size_t(i) * N;
    const Real* w = w_[c].data() + row;
    Real* gw = weight_grads(grads, c) + row;
    Real* gd = gw + conn.n_synapses();
    const uint32_t rows = hist_rows_[conn.post];
    with_delays([&](const auto& d) {
      d.kernels.gather(hist, w, d.steps[c].data() + row, N, n, mask, rows, net_.n_steps, tau_s, gw, gd, lanes);
    });
  }

  void backward_sample(uint32_t b, Workspace& ws, const BackwardInputs& in, const SampleGrads& grads) {
    ensure_backward(ws);
    // The sample's gradient starts at 0 where it is accumulated; input_gradients writes the
    // rest (the fold only reads the buffer).
    std::fill_n(grads.region[kAccumulated], region_size_[kAccumulated], Real(0));
    const size_t np = net_.pops.size();
    for (size_t p = 0; p < np; ++p) {
      if (net_.pops[p].kind == PopKind::Input) continue;
      std::fill(ws.lv[p].begin(), ws.lv[p].end(), Real(0));
      std::fill(ws.li[p].begin(), ws.li[p].end(), Real(0));
      // A full history needs no clearing: rows < N_T are written before they are read, rows
      // >= N_T are never written.
      if (!full_hist_[p]) std::fill(ws.hist[p].begin(), ws.hist[p].end(), Real(0));
    }
    const auto& tape = tapes_[b];
    const uint32_t K = net_.pops[net_.output].size;
    const auto& outpop = net_.pops[net_.output];
    const Readout ro = outpop.readout;
    const double* g = in.output_grad.data() + size_t(b) * K;
    const int32_t* first = first_spike_step_.data() + size_t(b) * K;
    const int32_t* nstar = max_step_.data() + size_t(b) * K;
    std::vector<size_t> cursor(np);
    for (size_t p = 0; p < np; ++p) cursor[p] = tape[p].size();
    const Real inv_T = Real(1.0 / net_.trial_ms());
    uint64_t in_cur = batch_.offsets[b + 1];
    const uint64_t in_begin = batch_.offsets[b];

    for (int32_t n = int32_t(net_.n_steps) - 1; n >= 0; --n) {
      // (a) adjoint jumps at this step's spikes, fused with their gradients (d).
      for (uint32_t p = 0; p < np; ++p) {
        const auto& pop = net_.pops[p];
        if (pop.kind != PopKind::LIF) continue;
        Real* lv = ws.lv[p].data();
        Real* li = ws.li[p].data();
        const std::vector<double>* kick =
            in.spike_kick.size() > p && !in.spike_kick[p].empty() ? &in.spike_kick[p] : nullptr;
        while (cursor[p] > 0 && tape[p][cursor[p] - 1].step == n) {
          const auto& e = tape[p][--cursor[p]];
          const uint32_t q = e.neuron;
          Real r = gather(ws, p, q, n, grads);
          if (p == net_.output && ro == Readout::FirstSpike && first[q] == n) r += Real(g[q]);
          spike_adjoint(k_[p], pop.single_spike, r, e.i0_minus_v, kick ? Real((*kick)[q]) : Real(0), lv[q], li[q]);
        }
      }
      // Max readout jump, (b) one backward step per population, (c) store H[n].
      for (uint32_t p = 0; p < np; ++p) {
        const auto& pop = net_.pops[p];
        if (pop.kind == PopKind::Input) continue;
        const auto& k = k_[p];
        const uint32_t N = pop.size;
        Real* lv = ws.lv[p].data();
        Real* li = ws.li[p].data();
        // Row n of the history: 2 kXWidth values per neuron block, blocks hstride apart.
        Real* h = ws.hist[p].data() + size_t(uint32_t(n) & hist_mask_[p]) * cpu::kXWidth * 2;
        const size_t hstride = size_t(hist_rows_[p]) * cpu::kXWidth * 2;
        if (p == net_.output)
          for (uint32_t j = 0; j < N; ++j)
            output_adjoint_step(k, ro, n, nstar[j], Real(g[j]), sumexp_.density[n], inv_T, lv[j], li[j]);
        adjoint_(k, p != net_.output, lv, li, N, h, hstride);
      }
      // (d) of this step's input spikes into populations with a history ring.
      while (any_input_ring_ && in_cur > in_begin && batch_.steps[in_cur - 1] == n) {
        --in_cur;
        const InputNeuron src = input_map_[batch_.channels[in_cur]];
        alignas(64) Real unused[cpu::kLanes] = {};
        for (uint32_t c : out_conns_[src.pop])
          if (!full_hist_[net_.conns[c].post]) gather_conn(ws, c, src.neuron, n, grads, unused);
      }
    }
    input_gradients(b, ws, grads);
  }

  // (d) for the input spikes, after the time loop (MODEL.md §3.2): their targets keep every
  // step of the history, so the gradients of all of a sample's input spikes are computed in
  // one pass per connection, neuron block by neuron block (a block's history stays in
  // cache), spikes in the order of the time loop (steps descending; within a step, batch
  // order reversed). Each weight and delay gradient thus gets the same additions in the same
  // order as when done step by step.
  void input_gradients(uint32_t b, Workspace& ws, const SampleGrads& grads) {
    if (!any_full_hist_) return;
    const uint64_t i0 = batch_.offsets[b], i1 = batch_.offsets[b + 1];
    for (uint32_t c = 0; c < net_.conns.size(); ++c) {
      const auto& conn = net_.conns[c];
      if (net_.pops[conn.pre].kind != PopKind::Input || !full_hist_[conn.post]) continue;
      // The presynaptic neurons of the spikes (the batch's channels when the input is one
      // population) and their steps, in batch order; the kernel goes backwards.
      const uint32_t* pre = batch_.channels.data() + i0;
      const int32_t* steps = batch_.steps.data() + i0;
      uint32_t K = uint32_t(i1 - i0);
      if (n_input_pops_ > 1) {
        ws.in_pre.clear();
        ws.in_steps.clear();
        for (uint64_t e = i0; e < i1; ++e) {
          const InputNeuron src = input_map_[batch_.channels[e]];
          if (src.pop != conn.pre) continue;
          ws.in_pre.push_back(src.neuron);
          ws.in_steps.push_back(batch_.steps[e]);
        }
        pre = ws.in_pre.data(), steps = ws.in_steps.data(), K = uint32_t(ws.in_pre.size());
      }
      // Every row of the connection's gradients is written (none is cleared before).
      if (ws.grad_scratch.size() < size_t(conn.n_pre) * 2 * cpu::kXWidth * cpu::kGradBlocks)
        ws.grad_scratch.assign(size_t(conn.n_pre) * 2 * cpu::kXWidth * cpu::kGradBlocks, Real(0));
      Real* scratch = ws.grad_scratch.data();
      const Real* hist = ws.hist[conn.post].data();
      const uint32_t rows = hist_rows_[conn.post];
      const Real tau_s = k_[conn.post].tau_s;
      Real* gw = weight_grads(grads, c);
      Real* gd = gw + conn.n_synapses();
      with_delays([&](const auto& d) {
        d.kernels.gradients(hist, w_[c].data(), d.steps[c].data(), conn.n_post, conn.n_pre, pre, steps, K, rows, tau_s,
                            gw, gd, scratch);
      });
    }
  }

  const Network net_;
  const EngineOptions opt_;
  std::vector<StepConstants<Real>> k_;
  std::vector<std::vector<uint32_t>> out_conns_;
  std::vector<uint8_t> distinct_targets_;  // per population: no two outgoing connections share a target
  std::vector<uint32_t> ring_slots_;
  std::vector<uint32_t> ring_stride_;  // values per arrival ring row (cpu::ring_stride)
  // Input ring rows per population (0: no input connection) and the steps of input spikes
  // delivered at once (x_slots_ - max incoming delay - 1 at most).
  std::vector<uint32_t> x_slots_;
  uint32_t x_steps_ = ~uint32_t(0);
  // Per population: the one connection from the only input population when it is the only
  // input connection (all input spikes delivered by one kernel call), else -1.
  std::vector<int32_t> x_conn_;
  uint32_t n_input_pops_ = 0;
  // Adjoint history per population: a ring of hist_rows_ = 2^k >= S_max + 2 slots (mask
  // hist_rows_ - 1), or, for targets of input populations (full_hist_), every step:
  // N_T + 1 rows (cpu::hist_row), mask all ones.
  std::vector<uint32_t> hist_rows_, hist_mask_;
  std::vector<uint8_t> full_hist_;
  std::vector<uint8_t> has_input_;  // per population: an input population projects to it
  bool any_full_hist_ = false;
  bool any_input_ring_ = false;  // an input connection into a history ring (step-by-step gradients)
  // Where each connection's sample gradients are: its region and the offset of its weights'
  // gradients in it (its delays' follow). The regions' values per sample, samples per fold,
  // and their parameters' ranges: param .. param + count at .. at + count of the region.
  struct GradAt {
    GradRegion region;
    size_t at;
  };
  std::vector<GradAt> grad_at_;
  size_t region_size_[2] = {0, 0};
  uint32_t fold_block_[2] = {0, 0};
  struct FoldRange {
    size_t param, at, count;
  };
  std::vector<FoldRange> fold_ranges_[2];
  Real* weight_grads(const SampleGrads& grads, uint32_t c) const {
    return grads.region[grad_at_[c].region] + grad_at_[c].at;
  }
  SumExpTables<Real> sumexp_;
  std::vector<InputNeuron> input_map_;
  cpu::Isa isa_ = cpu::Isa::Scalar;
  // Delays in steps, [conn][i * n_post + j], as D, with the kernels for them; only the set of
  // delay_bits_ is used.
  template <typename D>
  struct Delays {
    std::vector<LineVector<D>> steps;
    cpu::SynapseKernels<Real, D> kernels{};
  };
  Delays<uint8_t> s8_;
  Delays<uint16_t> s16_;
  Delays<int32_t> s32_;
  int delay_bits_ = 8;
  // f(the Delays in use).
  template <typename F>
  void with_delays(F&& f) {
    if (delay_bits_ == 8) f(s8_);
    else if (delay_bits_ == 16) f(s16_);
    else f(s32_);
  }
  cpu::FoldFn<Real> fold_ = nullptr;
  cpu::RoundFn round_ = nullptr;
  cpu::ReduceFn<Real> reduce_ = nullptr;
  cpu::AdjointFn<Real> adjoint_ = nullptr;
  cpu::NeuronFn<Real> neuron_ = nullptr;
  std::vector<LineVector<Real>> w_;
  SpikeBatch batch_;
  std::vector<std::vector<std::vector<TapeEntry<Real>>>> tapes_;  // [sample][population]
  std::vector<int32_t> first_spike_step_, max_step_;              // [sample * K + k]
  std::vector<Workspace> ws_;
};

}  // namespace

std::unique_ptr<Engine> make_cpu_engine(const Network& net, const EngineOptions& opt) {
  if (opt.precision == Precision::Float64) return std::make_unique<CpuEngine<double>>(net, opt);
  return std::make_unique<CpuEngine<float>>(net, opt);
}

}  // namespace delayprop
