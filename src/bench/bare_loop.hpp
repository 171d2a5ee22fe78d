#pragma once
// The bare loop: only what MODEL.md §2-§3 cannot avoid, for in -> h (recurrent) -> out,
// float32, one sample at a time on one core: ring scatter, neuron updates, adjoint steps,
// history gather and gradient accumulation. No validation, no generality, no batching: the
// per-core bound the engine is measured against (delayprop-bench --bare). It shares only the
// small helpers of core/model_math.hpp and an allocator with the engine, on purpose.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "core/aligned_vector.hpp"
#include "core/error.hpp"
#include "core/model_math.hpp"
#include "core/network.hpp"
#include "core/spikes.hpp"

namespace delayprop::bench {

// Every array of the bare loop starts on a page of its own. Its speed had depended on where
// the heap put its arrays relative to each other (forward 4.8-5.3 or 6.9-10 ms per sample at
// 42 spikes/neuron, from run to run of the same binary); page-aligned it always gets the fast
// layout, so that the engine is measured against the loop's best.
template <typename T>
using PageVector = std::vector<T, AlignedAllocator<T, 4096>>;

// Its code's placement is pinned too: its speed depended by up to 4 % on where the rest of the
// binary put it. forward() and backward() start on a 64-byte boundary and their bodies 16
// bytes of no-ops later: the fastest of the four placements tried (0, 16, 32, 48 bytes).
#if defined(__x86_64__)
#define DP_BARE_LOOP_PLACEMENT() asm volatile(".nops 16")
#else
#define DP_BARE_LOOP_PLACEMENT() (void)0
#endif

class BareLoop {
 public:
  BareLoop(const Network& net, std::span<const double> params) : net_(net) {
    require(net.pops.size() == 3 && net.conns.size() == 3 && net.conns[1].pre == 1 && net.conns[1].post == 1,
            "--bare needs the shd-rec workload (in -> h recurrent -> out)");
    C_ = net.pops[0].size;
    H_ = net.pops[1].size;
    K_ = net.pops[2].size;
    NT_ = net.n_steps;
    kh_ = make_step_constants<float>(net.pops[1].tau_m, net.pops[1].tau_s, net.pops[1].theta, net.dt);
    ko_ = make_step_constants<float>(net.pops[2].tau_m, net.pops[2].tau_s, net.pops[2].theta, net.dt);
    for (int c = 0; c < 3; ++c) {
      const auto& conn = net.conns[c];
      w_[c].resize(conn.n_synapses());
      s_[c].resize(conn.n_synapses());
      for (size_t k = 0; k < conn.n_synapses(); ++k) {
        w_[c][k] = float(params[conn.weight_offset + k]);
        s_[c][k] = delay_steps(params[conn.delay_offset + k], net.dt, conn.max_delay_steps);
      }
    }
    const uint32_t smax = uint32_t(net.conns[0].max_delay_steps);
    rmask_ = ring_slots_for(smax + 1) - 1;
    hmask_ = ring_slots_for(smax + 2) - 1;
    ringh_.resize(size_t(rmask_ + 1) * H_);
    ringo_.resize(size_t(rmask_ + 1) * K_);
    hh_.resize(size_t(hmask_ + 1) * H_ * 2);
    ho_.resize(size_t(hmask_ + 1) * K_ * 2);
    const double T = net.trial_ms();
    for (uint32_t n = 0; n < NT_; ++n) {
      sw_.push_back(float(std::exp(-(n * net.dt) / T) / NT_));
      sd_.push_back(float(std::exp(-(n * net.dt) / T) / T));
    }
    grad_.assign(net.n_params, 0.0f);
  }

  // Forward of sample b of batch: readouts into y (K values); keeps the sample's tape.
  [[gnu::aligned(64)]] void forward(const SpikeBatch& batch, uint32_t b, float* y) {
    DP_BARE_LOOP_PLACEMENT();
    if (tapes_.size() <= b) tapes_.resize(b + 1);
    auto& tape_ = tapes_[b];
    std::vector<float> Vh(H_, 0), Ih(H_, 0), Vo(K_, 0), Io(K_, 0);
    std::fill(ringh_.begin(), ringh_.end(), 0.0f);
    std::fill(ringo_.begin(), ringo_.end(), 0.0f);
    tape_.clear();
    std::fill(y, y + K_, 0.0f);
    uint64_t in = batch.offsets[b];
    const uint64_t in_end = batch.offsets[b + 1];
    for (uint32_t n = 0; n < NT_; ++n) {
      const size_t tape0 = tape_.size();
      float* slot = ringh_.data() + size_t(n & rmask_) * H_;
      for (uint32_t j = 0; j < H_; ++j) {
        Ih[j] += slot[j];
        slot[j] = 0;
        const float i0 = Ih[j];
        lif_step(kh_, Vh[j], Ih[j]);
        if (Vh[j] >= kh_.theta) {
          tape_.push_back({int32_t(n), j, i0 - Vh[j]});
          Vh[j] = 0;
        }
      }
      float* so = ringo_.data() + size_t(n & rmask_) * K_;
      for (uint32_t k = 0; k < K_; ++k) {
        Io[k] += so[k];
        so[k] = 0;
        lif_step(ko_, Vo[k], Io[k]);
        y[k] += sw_[n] * Vo[k];
      }
      for (; in < in_end && uint32_t(batch.steps[in]) == n; ++in) scatter(0, batch.channels[in], n, ringh_.data(), H_);
      for (size_t e = tape0; e < tape_.size(); ++e) {
        scatter(1, tape_[e].neuron, n, ringh_.data(), H_);
        scatter(2, tape_[e].neuron, n, ringo_.data(), K_);
      }
    }
  }

  // Backward of sample b (after its forward()), adding into grad_.
  [[gnu::aligned(64)]] void backward(const SpikeBatch& batch, uint32_t b, const double* g) {
    DP_BARE_LOOP_PLACEMENT();
    const auto& tape_ = tapes_.at(b);
    std::vector<float> lvh(H_, 0), lih(H_, 0), lvo(K_, 0), lio(K_, 0), gk(K_);
    for (uint32_t k = 0; k < K_; ++k) gk[k] = float(g[k]);
    std::fill(hh_.begin(), hh_.end(), 0.0f);
    std::fill(ho_.begin(), ho_.end(), 0.0f);
    size_t cur = tape_.size();
    uint64_t in = batch.offsets[b + 1];
    const uint64_t in_begin = batch.offsets[b];
    float* acc = grad_.data();
    for (int32_t n = int32_t(NT_) - 1; n >= 0; --n) {
      while (cur > 0 && tape_[cur - 1].step == n) {
        const auto& e = tape_[--cur];
        float r = gather(1, e.neuron, n, hh_.data(), H_, kh_.tau_s, acc);
        r += gather(2, e.neuron, n, ho_.data(), K_, ko_.tau_s, acc);
        lvh[e.neuron] = spike_jump(lvh[e.neuron], kh_.theta, r, e.den);
      }
      float* hh = hh_.data() + size_t(uint32_t(n) & hmask_) * H_ * 2;
      for (uint32_t j = 0; j < H_; ++j) {
        adjoint_step(kh_, 0.0f, lvh[j], lih[j]);
        hh[2 * j] = lvh[j];
        hh[2 * j + 1] = lih[j];
      }
      float* ho = ho_.data() + size_t(uint32_t(n) & hmask_) * K_ * 2;
      for (uint32_t k = 0; k < K_; ++k) {
        adjoint_step(ko_, gk[k] * sd_[n], lvo[k], lio[k]);
        ho[2 * k] = lvo[k];
        ho[2 * k + 1] = lio[k];
      }
      while (in > in_begin && batch.steps[in - 1] == n) {
        --in;
        gather(0, batch.channels[in], n, hh_.data(), H_, kh_.tau_s, acc);
      }
    }
  }

  const PageVector<float>& grad() const { return grad_; }
  void reset_grad() { std::fill(grad_.begin(), grad_.end(), 0.0f); }
  size_t spikes(uint32_t b) const { return tapes_.at(b).size(); }

 private:
  struct Spike {
    int32_t step;
    uint32_t neuron;
    float den;
  };

  void scatter(int c, uint32_t i, uint32_t n, float* ring, uint32_t N) {
    const float* w = w_[c].data() + size_t(i) * N;
    const int32_t* s = s_[c].data() + size_t(i) * N;
    for (uint32_t j = 0; j < N; ++j) ring[size_t((n + 1 + uint32_t(s[j])) & rmask_) * N + j] += w[j];
  }

  // History rings interleave (lambda_V, lambda_I): one cache line per synapse, not two.
  float gather(int c, uint32_t i, int32_t n, const float* hist, uint32_t N, float tau_s, float* acc) {
    const auto& conn = net_.conns[c];
    const size_t row = size_t(i) * N;
    const float* w = w_[c].data() + row;
    const int32_t* s = s_[c].data() + row;
    float* gw = acc + conn.weight_offset + row;
    float* gd = acc + conn.delay_offset + row;
    float r = 0;
    for (uint32_t j = 0; j < N; ++j) {
      const float* h = hist + (size_t((uint32_t(n) + 1 + uint32_t(s[j])) & hmask_) * N + j) * 2;
      const float lv = h[0], li = h[1];
      r += w[j] * (lv - li);
      gw[j] -= tau_s * li;
      gd[j] -= w[j] * (li - lv);
    }
    return r;
  }

  const Network& net_;
  uint32_t C_, H_, K_, NT_, rmask_, hmask_;
  StepConstants<float> kh_, ko_;
  PageVector<float> w_[3];
  PageVector<int32_t> s_[3];
  PageVector<float> ringh_, ringo_, hh_, ho_, sw_, sd_, grad_;
  std::vector<PageVector<Spike>> tapes_;  // per sample of the batch
};

#undef DP_BARE_LOOP_PLACEMENT

}  // namespace delayprop::bench
