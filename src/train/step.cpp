#include "train/step.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "core/loss.hpp"

namespace delayprop {

CountLayout::CountLayout(const Network& net) : offset(net.pops.size(), 0) {
  for (uint32_t p = 0; p < net.pops.size(); ++p)
    if (net.pops[p].kind == PopKind::LIF) {
      offset[p] = total;
      total += net.pops[p].size;
    }
}

void CountLayout::flatten(const ForwardOutputs& out, std::vector<uint32_t>& counts) const {
  counts.resize(total);
  for (uint32_t p = 0; p < offset.size() && p < out.spike_counts.size(); ++p)
    std::copy(out.spike_counts[p].begin(), out.spike_counts[p].end(), counts.begin() + offset[p]);
}

void bump_incoming(const Network& net, std::vector<double>& params, uint32_t p, uint32_t j, double amount,
                   bool feedforward_only) {
  for (const auto& c : net.conns) {
    if (c.post != p || !c.learn_weights || (feedforward_only && c.recurrent)) continue;
    for (uint32_t i = 0; i < c.n_pre; ++i) params[c.weight_offset + size_t(i) * c.n_post + j] += amount;
  }
}

namespace {

// The resident gradient summed over ranks through the communicator: in place on the device
// (NCCL, on the engine's stream) or, for host communicators, on host copies.
class CommReducer final : public GradientReducer {
 public:
  explicit CommReducer(dist::Communicator& comm) : comm_(comm) {}
  bool on_device() const override { return comm_.supports_device_buffers(); }
  void reduce(int64_t* digits, size_t n, void* stream) override {
    if (on_device()) comm_.allreduce_sum_device(reinterpret_cast<uint64_t*>(digits), n, stream);
    else comm_.allreduce_sum(std::span<int64_t>(digits, n));
  }

 private:
  dist::Communicator& comm_;
};

}  // namespace

TrainStep::TrainStep(const Network& net, Engine& engine, dist::Communicator& comm, const ResidentSpec& spec,
                     bool resident, GradientReducer* reducer, size_t bucket_bytes)
    : net_(net), engine_(engine), comm_(comm), spec_(spec), layout_(net), reducer_(reducer),
      bucket_bytes_(bucket_bytes), counts_(layout_.total, 0) {
  if (resident) {
    res_ = engine.resident();
    require(res_ != nullptr, "engine.resident = true: this engine has no device-resident training (engine.backend = \"cuda\" has)");
    res_->configure(spec_);
    if (!reducer_) {
      comm_reducer_ = std::make_unique<CommReducer>(comm_);
      reducer_ = comm_reducer_.get();
    }
  }
  grad_.assign(net.n_params, 0.0);
}

TrainStep::~TrainStep() = default;

void TrainStep::upload(const std::vector<double>& params, const Adam& adam) {
  if (!res_) return;
  res_->set_state(params, adam.m(), adam.v());
  device_newer_ = false;
}

void TrainStep::download(std::vector<double>& params, Adam& adam) {
  if (!res_ || !device_newer_) return;
  res_->get_state(params, adam.m(), adam.v());
  device_newer_ = false;
}

bool TrainStep::set_dataset(const SpikeBatch& all) {
  has_dataset_ = res_ && res_->set_dataset(all);
  return has_dataset_;
}

StepSums TrainStep::run(std::vector<double>& params, Adam& adam, const SpikeBatch& batch,
                        std::span<const int32_t> labels, uint64_t global_batch, double lr_w, double lr_d,
                        const std::function<void(StepPhase)>& lap) {
  return step(params, adam, &batch, {}, labels, global_batch, lr_w, lr_d, lap);
}

StepSums TrainStep::run(std::vector<double>& params, Adam& adam, std::span<const uint32_t> samples,
                        std::span<const int32_t> labels, uint64_t global_batch, double lr_w, double lr_d,
                        const std::function<void(StepPhase)>& lap) {
  require(has_dataset_, "training step: no data set on the device (set_dataset first)");
  return step(params, adam, nullptr, samples, labels, global_batch, lr_w, lr_d, lap);
}

StepSums TrainStep::step(std::vector<double>& params, Adam& adam, const SpikeBatch* batch,
                         std::span<const uint32_t> samples, std::span<const int32_t> labels, uint64_t global_batch,
                         double lr_w, double lr_d, const std::function<void(StepPhase)>& lap) {
  auto phase = [&](StepPhase p) {
    if (lap) lap(p);
  };
  if (!batch) res_->forward(samples, fwd_);
  else if (res_) res_->forward(*batch, fwd_);
  else engine_.forward(params, *batch, fwd_);
  phase(StepPhase::forward);

  // Spike counts over the global batch: the regulariser and the bumps need them.
  layout_.flatten(fwd_, counts_);
  comm_.allreduce_sum(std::span<uint32_t>(counts_));
  phase(StepPhase::comm);

  double sums[3] = {0, 0, double(batch ? batch->n_samples : samples.size())};
  if (res_) {
    const ResidentLoss l = res_->backward(labels, global_batch, counts_);
    sums[0] = l.loss;
    sums[1] = double(l.correct);
    phase(StepPhase::backward);
    // Exact sums: the same bits for any split of the batch over ranks. One rank has nothing
    // to add (unless a test's stand-in reducer was given).
    if (comm_.size() > 1 || reducer_ != comm_reducer_.get()) res_->reduce_gradient(*reducer_, bucket_bytes_);
  } else {
    const LossResult lr = compute_loss(spec_.loss, fwd_, labels, global_batch, bin_);
    std::vector<std::vector<uint32_t>> per_pop(net_.pops.size());
    for (uint32_t p = 0; p < net_.pops.size(); ++p)
      if (net_.pops[p].kind == PopKind::LIF)
        per_pop[p].assign(counts_.begin() + layout_.offset[p], counts_.begin() + layout_.offset[p] + net_.pops[p].size);
    bin_.spike_kick = regulariser_kicks(spec_.reg, net_, per_pop, global_batch);
    engine_.backward_exact(params, bin_, exact_grad_);
    sums[0] = lr.loss;
    sums[1] = double(lr.correct);
    phase(StepPhase::backward);
    // Exact sums: the same bits for any split of the batch over threads, ranks or GPUs.
    comm_.allreduce_sum(exact_grad_.digits());
    const size_t bad = engine_.round_exact(exact_grad_, grad_);
    require(bad == grad_.size(), "the gradient of parameter ", bad, " left the exact-sum range (|sum| >= 2^",
            ExactSum::kTopExp, ")");
  }
  comm_.allreduce_sum(std::span<double>(sums, 3));
  phase(StepPhase::comm);

  if (res_) {
    const auto [c1, c2] = adam.advance();
    res_->update(c1, c2, lr_w, lr_d, counts_);
    device_newer_ = true;
  } else {
    adam.step(params, grad_, lr_w, lr_d);
    const uint32_t out = net_.output;
    if (spec_.output_bump > 0 && net_.pops[out].kind == PopKind::LIF)
      for (uint32_t j = 0; j < net_.pops[out].size; ++j)
        if (counts_[layout_.offset[out] + j] == 0) bump_incoming(net_, params, out, j, spec_.output_bump, false);
  }
  return {sums[0], sums[1], sums[2]};
}

}  // namespace delayprop
