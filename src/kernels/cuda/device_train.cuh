// Device-resident training for the CUDA backend (core/resident.hpp; docs/GPU.md,
// "Device-resident training"): the parameters, the Adam moments, the gradient's exact sums,
// the loss, the regulariser kicks, the delay clamp and the silent-output bump live and run on
// the GPU; the host sends the batch (or its sample indices, when the training set's spikes are
// on the device: set_dataset) and the global spike counts and reads the loss.
// Included by cuda_engine.cu after CudaEngine (it uses the engine's buffers); the math is
// that of core/ (model_math.hpp, loss.hpp, optimizer.hpp, exact_sum.hpp), one copy each.
#pragma once
#include <algorithm>
#include <cstring>
#include <span>
#include <vector>

#include "core/resident.hpp"

namespace delayprop {
namespace {

// One weight or delay group of a connection, in the parameter layout.
struct ParamSegment {
  uint64_t off, n;
  uint32_t is_delay, learn;
  uint32_t post, n_post;  // the connection's target population and its size
  int32_t max_steps;      // delays: the largest delay in steps
  uint32_t pad_;
  double max_ms;  // delays: the clamp
};

// The input lists of a batch (CudaEngine::build_inputs' buffers) assembled from the resident
// data set's per-sample lists (CudaEngine::sample_inputs, numbered from 0 within a sample).
// One block per batch sample b: bat[b] is its data-set sample, bat[B + b] its first spike in
// the batch and bat[2B + 1 + b] its first input_grad_kernel item (both B + 1 prefix sums).
__global__ void gather_inputs_kernel(const uint32_t* __restrict__ bat, uint32_t B, uint32_t NT,
                                     const uint64_t* __restrict__ ds_spike0, const uint64_t* __restrict__ ds_item0,
                                     const uint32_t* __restrict__ ds_id, const int32_t* __restrict__ ds_gsteps,
                                     const uint32_t* __restrict__ ds_off, const uint32_t* __restrict__ ds_gid,
                                     const uint32_t* __restrict__ ds_goff, uint32_t* __restrict__ in_id,
                                     uint32_t* __restrict__ in_off, uint32_t* __restrict__ gin_b,
                                     uint32_t* __restrict__ gin_id, uint32_t* __restrict__ gin_off,
                                     int32_t* __restrict__ gin_steps) {
  const uint32_t b = blockIdx.x;
  if (b >= B) {  // an empty batch (one block): the items' end only
    if (threadIdx.x == 0) gin_off[0] = 0;
    return;
  }
  const uint32_t i = bat[b], s0 = bat[B + b], n = bat[B + b + 1] - s0;
  const uint32_t t0 = bat[2 * B + 1 + b], items = bat[2 * B + 2 + b] - t0;
  const uint64_t src = ds_spike0[i], isrc = ds_item0[i];
  for (uint32_t k = threadIdx.x; k < n; k += blockDim.x) {
    in_id[s0 + k] = ds_id[src + k];
    gin_steps[s0 + k] = ds_gsteps[src + k];
  }
  const uint32_t* off = ds_off + uint64_t(i) * (NT + 1);
  for (uint32_t t = threadIdx.x; t <= NT; t += blockDim.x) in_off[uint64_t(b) * (NT + 1) + t] = s0 + off[t];
  for (uint32_t j = threadIdx.x; j < items; j += blockDim.x) {
    gin_b[t0 + j] = b;
    gin_id[t0 + j] = ds_gid[isrc + j];
    gin_off[t0 + j] = s0 + ds_goff[isrc + j];
  }
  if (b == B - 1 && threadIdx.x == 0) gin_off[t0 + items] = s0 + n;  // the end of the last item
}

// Weights (as Real) and delay steps for the kernels, from the resident parameters (what
// CudaEngine::load_params does on the host).
template <typename Real>
__global__ void params_to_kernels_kernel(const ParamSegment* __restrict__ segs, uint32_t n_segs,
                                         const double* __restrict__ params, Real* __restrict__ w,
                                         int32_t* __restrict__ s, double dt) {
  const uint64_t stride = uint64_t(gridDim.x) * blockDim.x;
  for (uint32_t g = 0; g < n_segs; ++g) {
    const ParamSegment seg = segs[g];
    for (uint64_t k = uint64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < seg.n; k += stride) {
      const uint64_t i = seg.off + k;
      if (seg.is_delay) s[i] = delay_steps(params[i], dt, seg.max_steps);
      else w[i] = Real(params[i]);
    }
  }
}

// The readouts of the last forward (CudaEngine::run_forward's final_readout, on the device).
template <typename Real>
__global__ void readout_kernel(const Real* __restrict__ yacc, const Real* __restrict__ ymax,
                               const int32_t* __restrict__ first, uint64_t n, Readout ro, double dt, double trial_ms,
                               double* __restrict__ y) {
  for (uint64_t e = uint64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += uint64_t(gridDim.x) * blockDim.x)
    y[e] = final_readout(ro, yacc[e], ymax[e], first[e], dt, trial_ms);
}

struct LossOut {
  double loss;
  uint32_t correct, pad_;
};

// compute_loss on the device: one thread runs the samples in order, so that the loss is
// summed term by term as on the host (B x K terms: a few microseconds of work). dL/dy goes
// to the backward kernel as Real, as CudaEngine::backward_exact converts it.
template <typename Real>
__global__ void loss_kernel(LossKind kind, double delta_ms, const double* __restrict__ y,
                            const int32_t* __restrict__ first, const int32_t* __restrict__ labels, uint32_t B,
                            uint32_t K, double inv_b, double* __restrict__ grad_d, Real* __restrict__ g,
                            LossOut* __restrict__ out) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  double loss = 0.0;
  uint32_t correct = 0;
  for (uint32_t b = 0; b < B; ++b) {
    const double* yb = y + size_t(b) * K;
    const int32_t* fb = first + size_t(b) * K;
    correct += predict(kind, yb, fb, K) == labels[b];
    sample_loss(kind, delta_ms, yb, fb, K, labels[b], inv_b, grad_d + size_t(b) * K, loss);
  }
  for (size_t e = 0; e < size_t(B) * K; ++e) g[e] = Real(grad_d[e]);
  out->loss = loss;
  out->correct = correct;
}

// The regulariser kick of every neuron state (regulariser_kicks on the device): map[j] is the
// neuron's index in the global spike counts, or -1 (no kick).
template <typename Real>
__global__ void kick_kernel(const int32_t* __restrict__ map, uint32_t n_state, const uint32_t* __restrict__ counts,
                            double target, double k_up, double k_low, double B, Real* __restrict__ kick) {
  for (uint32_t j = blockIdx.x * blockDim.x + threadIdx.x; j < n_state; j += gridDim.x * blockDim.x)
    kick[j] = map[j] >= 0 ? Real(regulariser_kick(double(counts[map[j]]), target, k_up, k_low, B)) : Real(0);
}

// The summed gradient rounded to double (ExactVector::round_to); *bad = the lowest index of
// a sum out of range (NaN there), unchanged when none is.
__global__ void round_grad_kernel(const int64_t* __restrict__ acc, uint64_t P, double* __restrict__ grad,
                                  unsigned long long* __restrict__ bad) {
  for (uint64_t i = uint64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < P; i += uint64_t(gridDim.x) * blockDim.x) {
    int64_t t[ExactSum::kDigits];
    for (int d = 0; d < ExactSum::kDigits; ++d) t[d] = acc[i * ExactSum::kDigits + d];
    if (exact_normalise(t)) {
      grad[i] = exact_to_double(t);
    } else {
      grad[i] = NAN;
      atomicMin(bad, static_cast<unsigned long long>(i));
    }
  }
}

// Adam::step on the device: adam_update on every learned group, then every connection's
// delays clamped (clamp_delays). Nothing changes when the gradient was out of range.
__global__ void adam_kernel(const ParamSegment* __restrict__ segs, uint32_t n_segs, double* __restrict__ params,
                            double* __restrict__ m, double* __restrict__ v, const double* __restrict__ grad,
                            AdamSpec spec, double lr_w, double lr_d, double c1, double c2,
                            const unsigned long long* __restrict__ bad) {
  if (*bad != ~0ull) return;
  const uint64_t stride = uint64_t(gridDim.x) * blockDim.x;
  for (uint32_t g = 0; g < n_segs; ++g) {
    const ParamSegment seg = segs[g];
    const double lr = seg.is_delay ? lr_d : lr_w;
    for (uint64_t k = uint64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < seg.n; k += stride) {
      const uint64_t i = seg.off + k;
      if (seg.learn) adam_update(params[i], m[i], v[i], grad[i], spec.beta1, spec.beta2, spec.eps, lr, c1, c2);
      if (seg.is_delay) params[i] = clamp_delay(params[i], seg.max_ms);
    }
  }
}

// The silent-output bump (the trainer's bump_silent_outputs): `amount` added to every learned
// incoming weight of an output neuron that did not spike in the global batch.
__global__ void bump_outputs_kernel(const ParamSegment* __restrict__ segs, uint32_t n_segs, uint32_t output,
                                    const uint32_t* __restrict__ out_counts, double amount,
                                    double* __restrict__ params) {
  const uint64_t stride = uint64_t(gridDim.x) * blockDim.x;
  for (uint32_t g = 0; g < n_segs; ++g) {
    const ParamSegment seg = segs[g];
    if (seg.is_delay || !seg.learn || seg.post != output) continue;
    for (uint64_t k = uint64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < seg.n; k += stride)
      if (out_counts[k % seg.n_post] == 0) params[seg.off + k] += amount;
  }
}

template <typename Real>
class ResidentCuda final : public ResidentTraining {
 public:
  explicit ResidentCuda(CudaEngine<Real>& e) : e_(e), P_(e.net_.n_params) {
    DP_CUDA(cudaSetDevice(e_.device_));
    // A blocking stream: ordered after the engine's work on the legacy default stream, and
    // that work after it, so the engine's passes and these steps need no extra events.
    DP_CUDA(cudaStreamCreate(&stream_));
    DP_CUDA(cudaMallocHost(reinterpret_cast<void**>(&host_), sizeof(HostMirror)));
    const Network& net = e_.net_;
    for (uint32_t c = 0; c < net.conns.size(); ++c) {
      const auto& cn = net.conns[c];
      segs_.push_back({cn.weight_offset, cn.n_synapses(), 0, cn.learn_weights ? 1u : 0u, cn.post, cn.n_post, 0, 0, 0.0});
      segs_.push_back({cn.delay_offset, cn.n_synapses(), 1, cn.learn_delays ? 1u : 0u, cn.post, cn.n_post,
                       cn.max_delay_steps, 0, cn.max_delay_ms});
    }
    std::vector<uint8_t> raw(segs_.size() * sizeof(ParamSegment));
    if (!raw.empty()) std::memcpy(raw.data(), segs_.data(), raw.size());
    segs_dev_.upload(raw);
    params_.reserve(P_);
    m_.reserve(P_);
    v_.reserve(P_);
    grad_.reserve(P_);
    gcounts_.reserve(e_.n_counts_);
    bad_.reserve(1);
    out_.reserve(1);
  }
  ~ResidentCuda() override {
    if (host_) cudaFreeHost(host_);
    if (stream_) cudaStreamDestroy(stream_);
  }
  ResidentCuda(const ResidentCuda&) = delete;
  ResidentCuda& operator=(const ResidentCuda&) = delete;

  void configure(const ResidentSpec& spec) override {
    spec_ = spec;
    const Network& net = e_.net_;
    // The neuron states that get a kick, and their index in the global counts (the order of
    // the trainer's counts: the LIF populations' neurons, populations in order = count_off).
    std::vector<int32_t> map(e_.L_.n_state, -1);
    if (spec.reg.enabled)
      for (uint32_t p = 0; p < net.pops.size(); ++p) {
        const auto& pop = net.pops[p];
        if (pop.kind != PopKind::LIF || p == net.output) continue;
        if (!spec.reg.populations.empty() &&
            std::find(spec.reg.populations.begin(), spec.reg.populations.end(), p) == spec.reg.populations.end())
          continue;
        for (uint32_t q = 0; q < pop.size; ++q)
          map[e_.L_.pops[p].state_off + q] = int32_t(e_.L_.pops[p].count_off + q);
      }
    kick_map_.upload(map);
    configured_ = true;
  }

  void set_state(std::span<const double> params, std::span<const double> m, std::span<const double> v) override {
    require(params.size() == P_ && m.size() == P_ && v.size() == P_, "resident training: state of ", params.size(),
            "/", m.size(), "/", v.size(), " values, the network has ", P_, " parameters");
    check_params(e_.net_, params);
    DP_CUDA(cudaSetDevice(e_.device_));
    DP_CUDA(cudaStreamSynchronize(stream_));
    copy_up(params_.get(), params);
    copy_up(m_.get(), m);
    copy_up(v_.get(), v);
    have_state_ = true;
  }

  void get_state(std::span<double> params, std::span<double> m, std::span<double> v) override {
    require(have_state_, "resident training: no state (set_state first)");
    require(params.size() == P_ && m.size() == P_ && v.size() == P_, "resident training: state buffers of ",
            params.size(), "/", m.size(), "/", v.size(), " values, the network has ", P_, " parameters");
    DP_CUDA(cudaSetDevice(e_.device_));
    DP_CUDA(cudaStreamSynchronize(stream_));
    copy_down(params, params_.get());
    copy_down(m, m_.get());
    copy_down(v, v_.get());
  }

  void forward(const SpikeBatch& batch, ForwardOutputs& out) override {
    require(have_state_, "resident training: no state (set_state first)");
    require(!out.record_spikes, "engine: the cuda backend does not record spikes (spike rasters need engine.backend = \"cpu\")");
    const auto t0 = Clock::now();
    DP_CUDA(cudaSetDevice(e_.device_));
    e_.check_batch(batch);
    e_.w_.reserve(P_);
    e_.s_.reserve(P_);
    DP_LAUNCH_ON(stream_, params_to_kernels_kernel<Real>, grid_for(P_), 256, segs(), n_segs(), params_.get(),
                 e_.w_.get(), e_.s_.get(), e_.net_.dt);
    DP_CUDA(cudaGetLastError());
    e_.build_inputs(batch);
    e_.run_forward(batch.n_samples, batch.steps.size(), out, t0);
  }

  bool set_dataset(const SpikeBatch& all) override {
    DP_CUDA(cudaSetDevice(e_.device_));
    DP_CUDA(cudaStreamSynchronize(stream_));
    drop_dataset();
    delayprop::check_batch(e_.net_, all);
    const uint32_t S = all.n_samples, NT = e_.net_.n_steps;
    const uint64_t n = all.steps.size();
    // The per-sample lists, numbered from 0 within each sample (CudaEngine::sample_inputs).
    std::vector<uint32_t> id(n), off(size_t(S) * (NT + 1)), gid, goff;
    std::vector<int32_t> gsteps(n);
    std::vector<uint64_t> item0(size_t(S) + 1, 0);
    ds_events_.assign(S, 0);
    for (uint32_t b = 0; b < S; ++b) {
      const uint64_t begin = all.offsets[b];
      require(all.n_spikes(b) < uint64_t(std::numeric_limits<uint32_t>::max()),
              "resident data set: more than 2^32 input spikes in sample ", b);
      ds_events_[b] = e_.sample_inputs(all, b, 0, id.data() + begin, off.data() + size_t(b) * (NT + 1),
                                       gsteps.data() + begin, gid, goff);
      item0[b + 1] = gid.size();
    }
    const size_t bytes = n * (sizeof(uint32_t) + sizeof(int32_t)) + off.size() * sizeof(uint32_t) +
                         gid.size() * 2 * sizeof(uint32_t) + 2 * (size_t(S) + 1) * sizeof(uint64_t);
    size_t free_b = 0, total_b = 0;
    DP_CUDA(cudaMemGetInfo(&free_b, &total_b));
    if (bytes > free_b / 2) return false;
    ds_spike0_.upload(all.offsets);
    ds_item0_.upload(item0);
    ds_id_.upload(id);
    ds_gsteps_.upload(gsteps);
    ds_off_.upload(off);
    ds_gid_.upload(gid);
    ds_goff_.upload(goff);
    ds_offsets_ = all.offsets;
    ds_items_ = std::move(item0);
    ds_bytes_ = bytes;
    return true;
  }

  size_t dataset_bytes() const override { return ds_bytes_; }

  void forward(std::span<const uint32_t> samples, ForwardOutputs& out) override {
    require(have_state_, "resident training: no state (set_state first)");
    require(ds_bytes_ > 0, "resident training: no data set on the device (set_dataset first)");
    require(!out.record_spikes, "engine: the cuda backend does not record spikes (spike rasters need engine.backend = \"cpu\")");
    const auto t0 = Clock::now();
    DP_CUDA(cudaSetDevice(e_.device_));
    const uint32_t B = uint32_t(samples.size()), NT = e_.net_.n_steps;
    const uint32_t S = uint32_t(ds_offsets_.size() - 1);
    // The batch's layout from the samples' sizes (host: a few numbers per sample).
    bat_.resize(3 * size_t(B) + 2);
    uint32_t* spike0 = bat_.data() + B;
    uint32_t* item0 = spike0 + B + 1;
    spike0[0] = 0;
    item0[0] = 0;
    uint64_t spikes = 0, items = 0;
    e_.input_events_ = 0;
    for (uint32_t b = 0; b < B; ++b) {
      const uint32_t i = samples[b];
      require(i < S, "resident training: sample ", i, " out of range (", S, " samples on the device)");
      bat_[b] = i;
      spikes += ds_offsets_[i + 1] - ds_offsets_[i];
      items += ds_items_[i + 1] - ds_items_[i];
      require(spikes < uint64_t(std::numeric_limits<uint32_t>::max()), "cuda engine: more than 2^32 input spikes in one batch");
      spike0[b + 1] = uint32_t(spikes);
      item0[b + 1] = uint32_t(items);
      e_.input_events_ += ds_events_[i];
    }
    e_.gin_sample_off_.assign(item0, item0 + B + 1);
    bat_dev_.upload(bat_);
    e_.in_id_.reserve(spikes);
    e_.gin_steps_.reserve(spikes);
    e_.in_off_.reserve(size_t(B) * (NT + 1));
    e_.gin_b_.reserve(items);
    e_.gin_id_.reserve(items);
    e_.gin_off_.reserve(items + 1);
    DP_LAUNCH_ON(stream_, gather_inputs_kernel, std::max(B, 1u), 256, bat_dev_.get(), B, NT, ds_spike0_.get(),
                 ds_item0_.get(), ds_id_.get(), ds_gsteps_.get(), ds_off_.get(), ds_gid_.get(), ds_goff_.get(),
                 e_.in_id_.get(), e_.in_off_.get(), e_.gin_b_.get(), e_.gin_id_.get(), e_.gin_off_.get(),
                 e_.gin_steps_.get());
    DP_CUDA(cudaGetLastError());
    e_.w_.reserve(P_);
    e_.s_.reserve(P_);
    DP_LAUNCH_ON(stream_, params_to_kernels_kernel<Real>, grid_for(P_), 256, segs(), n_segs(), params_.get(),
                 e_.w_.get(), e_.s_.get(), e_.net_.dt);
    DP_CUDA(cudaGetLastError());
    e_.run_forward(B, spikes, out, t0);
  }

  ResidentLoss backward(std::span<const int32_t> labels, uint64_t global_batch,
                        std::span<const uint32_t> global_counts) override {
    require(configured_, "resident training: configure() first");
    require(e_.have_forward_, "backward: no forward pass to differentiate");
    const auto t0 = Clock::now();
    DP_CUDA(cudaSetDevice(e_.device_));
    const uint32_t B = e_.B_, K = e_.L_.K;
    require(labels.size() == B, "loss: ", labels.size(), " labels for ", B, " samples");
    require(global_batch >= B && global_batch > 0, "loss: global batch ", global_batch, " < local ", B);
    for (uint32_t b = 0; b < B; ++b)
      require(labels[b] >= 0 && uint32_t(labels[b]) < K, "loss: label ", labels[b], " of sample ", b,
              " is out of range [0, ", K, ")");
    require(global_counts.size() == e_.n_counts_, "resident training: ", global_counts.size(),
            " spike counts, the network has ", e_.n_counts_, " LIF neurons");
    const size_t BK = size_t(B) * K;
    labels_.reserve(B);
    copy_up(labels_.get(), labels);
    copy_up(gcounts_.get(), global_counts);
    readout_.reserve(BK);
    grad_y_.reserve(BK);
    e_.g_.reserve(BK);
    e_.kick_.reserve(e_.L_.n_state);
    const Network& net = e_.net_;
    if (BK) {
      DP_LAUNCH_ON(stream_, readout_kernel<Real>, grid_for(BK), 256, e_.yacc_.get(), e_.ymax_.get(), e_.first_.get(),
                   uint64_t(BK), net.pops[net.output].readout, net.dt, net.trial_ms(), readout_.get());
      DP_CUDA(cudaGetLastError());
    }
    DP_LAUNCH_ON(stream_, loss_kernel<Real>, 1, 32, spec_.loss.kind, spec_.loss.delta_ms, readout_.get(), e_.first_.get(),
                 labels_.get(), B, K, 1.0 / double(global_batch), grad_y_.get(), e_.g_.get(), out_.get());
    DP_CUDA(cudaGetLastError());
    const double gB = double(global_batch);
    if (e_.L_.n_state) {
      DP_LAUNCH_ON(stream_, kick_kernel<Real>, grid_for(e_.L_.n_state), 256, kick_map_.get(), e_.L_.n_state,
                   gcounts_.get(), spec_.reg.nu * gB, spec_.reg.k_up, spec_.reg.k_low, gB, e_.kick_.get());
      DP_CUDA(cudaGetLastError());
    }
    DP_CUDA(cudaMemcpyAsync(&host_->loss, out_.get(), sizeof(LossOut), cudaMemcpyDeviceToHost, stream_));
    // The engine's backward runs on the legacy default stream, after the kernels above.
    e_.run_backward(t0);
    // Frozen groups get no gradient (zero_frozen_gradients), before the all-reduce as on the
    // host path.
    for (const ParamSegment& s : segs_)
      if (!s.learn)
        DP_CUDA(cudaMemsetAsync(e_.acc_.get() + s.off * ExactSum::kDigits, 0, s.n * ExactSum::kDigits * sizeof(int64_t),
                                stream_));
    DP_CUDA(cudaStreamSynchronize(stream_));
    return {host_->loss.loss, host_->loss.correct};
  }

  void reduce_gradient(GradientReducer& reducer, size_t bucket_bytes) override {
    DP_CUDA(cudaSetDevice(e_.device_));
    int64_t* acc = e_.acc_.get();
    const bool dev = reducer.on_device();
    if (!dev) staging_.resize(P_ * ExactSum::kDigits);
    for (const auto& [first, n] : gradient_buckets(P_, bucket_bytes)) {
      if (dev) {
        reducer.reduce(acc + first, n, stream_);
        continue;
      }
      DP_CUDA(cudaMemcpyAsync(staging_.data() + first, acc + first, n * sizeof(int64_t), cudaMemcpyDeviceToHost, stream_));
      DP_CUDA(cudaStreamSynchronize(stream_));
      reducer.reduce(staging_.data() + first, n, nullptr);
      DP_CUDA(cudaMemcpyAsync(acc + first, staging_.data() + first, n * sizeof(int64_t), cudaMemcpyHostToDevice, stream_));
    }
  }

  void update(double c1, double c2, double lr_weights, double lr_delays,
              std::span<const uint32_t> global_counts) override {
    require(configured_ && have_state_, "resident training: configure() and set_state() first");
    DP_CUDA(cudaSetDevice(e_.device_));
    host_->bad = ~0ull;
    DP_CUDA(cudaMemcpyAsync(bad_.get(), &host_->bad, sizeof(unsigned long long), cudaMemcpyHostToDevice, stream_));
    DP_LAUNCH_ON(stream_, round_grad_kernel, grid_for(P_), 256, e_.acc_.get(), uint64_t(P_), grad_.get(), bad_.get());
    DP_CUDA(cudaGetLastError());
    DP_LAUNCH_ON(stream_, adam_kernel, grid_for(P_), 256, segs(), n_segs(), params_.get(), m_.get(), v_.get(),
                 grad_.get(), spec_.adam, lr_weights, lr_delays, c1, c2, bad_.get());
    DP_CUDA(cudaGetLastError());
    const Network& net = e_.net_;
    const bool bump = spec_.output_bump > 0 && net.pops[net.output].kind == PopKind::LIF;
    if (bump) {
      require(global_counts.size() == e_.n_counts_, "resident training: ", global_counts.size(),
              " spike counts, the network has ", e_.n_counts_, " LIF neurons");
      copy_up(gcounts_.get(), global_counts);
      DP_LAUNCH_ON(stream_, bump_outputs_kernel, grid_for(P_), 256, segs(), n_segs(), net.output,
                   gcounts_.get() + e_.L_.pops[net.output].count_off, spec_.output_bump, params_.get());
      DP_CUDA(cudaGetLastError());
    }
    DP_CUDA(cudaMemcpyAsync(&host_->bad, bad_.get(), sizeof(unsigned long long), cudaMemcpyDeviceToHost, stream_));
    DP_CUDA(cudaStreamSynchronize(stream_));
    require(host_->bad == ~0ull, "the gradient of parameter ", host_->bad, " left the exact-sum range (|sum| >= 2^",
            ExactSum::kTopExp, ")");
  }

  cudaStream_t stream() const { return stream_; }
  size_t memory_bytes() const {
    return params_.bytes() + m_.bytes() + v_.bytes() + grad_.bytes() + readout_.bytes() + grad_y_.bytes() +
           labels_.bytes() + gcounts_.bytes() + kick_map_.bytes() + segs_dev_.bytes() + ds_bytes_ + bat_dev_.bytes();
  }

 private:
  // Small results the host reads, in pinned memory (asynchronous copies).
  struct HostMirror {
    LossOut loss;
    unsigned long long bad;
  };

  static uint32_t grid_for(size_t n) { return uint32_t(std::clamp<size_t>((n + 255) / 256, 1, 4096)); }
  const ParamSegment* segs() const { return reinterpret_cast<const ParamSegment*>(segs_dev_.get()); }
  uint32_t n_segs() const { return uint32_t(segs_.size()); }

  // Copies on the stream (pageable host memory: the copy is done when the call returns).
  template <typename T>
  void copy_up(T* dst, std::span<const T> src) {
    if (!src.empty()) DP_CUDA(cudaMemcpyAsync(dst, src.data(), src.size_bytes(), cudaMemcpyHostToDevice, stream_));
  }
  template <typename T>
  void copy_down(std::span<T> dst, const T* src) {
    if (!dst.empty()) DP_CUDA(cudaMemcpyAsync(dst.data(), src, dst.size_bytes(), cudaMemcpyDeviceToHost, stream_));
    DP_CUDA(cudaStreamSynchronize(stream_));
  }

  void drop_dataset() {
    for (auto* b : {&ds_id_, &ds_off_, &ds_gid_, &ds_goff_}) b->release();
    ds_gsteps_.release();
    ds_spike0_.release();
    ds_item0_.release();
    ds_offsets_.clear();
    ds_items_.clear();
    ds_events_.clear();
    ds_bytes_ = 0;
  }

  CudaEngine<Real>& e_;
  const size_t P_;
  ResidentSpec spec_;
  bool configured_ = false, have_state_ = false;
  cudaStream_t stream_ = nullptr;
  HostMirror* host_ = nullptr;
  std::vector<ParamSegment> segs_;
  std::vector<int64_t> staging_;  // host copy of the digits when the reducer works on the host
  DeviceBuffer<uint8_t> segs_dev_;
  DeviceBuffer<double> params_, m_, v_, grad_, readout_, grad_y_;
  DeviceBuffer<int32_t> labels_, kick_map_;
  DeviceBuffer<uint32_t> gcounts_;
  DeviceBuffer<unsigned long long> bad_;
  DeviceBuffer<LossOut> out_;
  // The resident data set (set_dataset): per sample, its first spike and first item (S + 1
  // each), its per-step offsets (n_steps + 1); per spike, its id (batch order) and its
  // channel group's step (input_grad_kernel order); per item (a channel with spikes), its id
  // and first entry. Host copies of the sample and item offsets and each sample's synaptic
  // events of the input spikes; the batch's layout (gather_inputs_kernel's bat).
  DeviceBuffer<uint64_t> ds_spike0_, ds_item0_;
  DeviceBuffer<uint32_t> ds_id_, ds_off_, ds_gid_, ds_goff_;
  DeviceBuffer<int32_t> ds_gsteps_;
  std::vector<uint64_t> ds_offsets_, ds_items_, ds_events_;
  size_t ds_bytes_ = 0;
  std::vector<uint32_t> bat_;
  DeviceBuffer<uint32_t> bat_dev_;
};

}  // namespace

bool cuda_adam_matches_host(const Network& net, uint64_t seed, int steps, std::string& detail) {
  const size_t P = net.n_params;
  std::vector<double> params = init_params(net, seed), grad(P);
  uint64_t x = seed | 1;
  auto next = [&x] {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return double(x >> 11) / 9007199254740992.0;  // [0, 1)
  };
  Adam host(net), counter(net);
  std::vector<ParamSegment> segs;
  for (const auto& c : net.conns) {
    segs.push_back({c.weight_offset, c.n_synapses(), 0, c.learn_weights ? 1u : 0u, c.post, c.n_post, 0, 0, 0.0});
    segs.push_back({c.delay_offset, c.n_synapses(), 1, c.learn_delays ? 1u : 0u, c.post, c.n_post, c.max_delay_steps,
                    0, c.max_delay_ms});
  }
  std::vector<uint8_t> raw(segs.size() * sizeof(ParamSegment));
  if (!raw.empty()) std::memcpy(raw.data(), segs.data(), raw.size());
  DeviceBuffer<uint8_t> segs_dev;
  segs_dev.upload(raw);
  DeviceBuffer<double> p_dev, m_dev, v_dev, g_dev;
  DeviceBuffer<unsigned long long> bad;
  p_dev.upload(params);
  m_dev.upload(std::vector<double>(P, 0.0));
  v_dev.upload(std::vector<double>(P, 0.0));
  bad.upload(std::vector<unsigned long long>{~0ull});
  const uint32_t grid = uint32_t(std::clamp<size_t>((P + 255) / 256, 1, 4096));
  std::vector<double> dp, dm, dv;
  for (int t = 0; t < steps; ++t) {
    // Gradients over many magnitudes, both signs, some zeros; large delay steps push delays
    // past both ends of their range, so the clamp acts.
    for (double& g : grad) {
      const double u = next();
      g = u < 0.1 ? 0.0 : std::ldexp(next() - 0.5, int(u * 40.0) - 20);
    }
    const double lr_w = 1e-3 * (1 + t % 3), lr_d = 5.0;
    host.step(params, grad, lr_w, lr_d);
    const auto [c1, c2] = counter.advance();
    g_dev.upload(grad);
    DP_LAUNCH(adam_kernel, grid, 256, reinterpret_cast<const ParamSegment*>(segs_dev.get()), uint32_t(segs.size()),
              p_dev.get(), m_dev.get(), v_dev.get(), g_dev.get(), AdamSpec{}, lr_w, lr_d, c1, c2, bad.get());
    DP_CUDA(cudaGetLastError());
  }
  DP_CUDA(cudaDeviceSynchronize());
  p_dev.download(dp, P);
  m_dev.download(dm, P);
  v_dev.download(dv, P);
  size_t clamped = 0;
  for (const auto& c : net.conns)
    for (size_t k = 0; k < c.n_synapses(); ++k) {
      const double d = params[c.delay_offset + k];
      clamped += d == 0.0 || d == c.max_delay_ms;
    }
  auto same = [](const std::vector<double>& a, const std::vector<double>& b) {
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0);
  };
  const bool ok = same(dp, params) && same(dm, host.m()) && same(dv, host.v());
  detail = std::string(ok ? "bitwise equal" : "DIFFERENT") + ": device and host Adam, " + std::to_string(steps) +
           " steps of " + std::to_string(P) + " parameters, " + std::to_string(clamped) + " delays at a clamp bound";
  return ok && clamped > 0;
}

}  // namespace delayprop
