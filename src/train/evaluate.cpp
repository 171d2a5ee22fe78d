#include "train/evaluate.hpp"

#include <algorithm>
#include <numeric>

#include "core/error.hpp"
#include "dist/shard.hpp"

namespace delayprop {

uint32_t eval_batch_size(uint32_t train_batch_size) { return std::max<uint32_t>(train_batch_size, 64); }

EvalResult evaluate(const Network& net, const LossSpec& loss, Engine& engine, dist::Communicator& comm,
                    const EventDataset& data, std::span<const double> params, uint32_t batch_size,
                    bool keep_samples) {
  require(batch_size > 0, "evaluation batch size must be > 0");
  EvalResult r;
  const uint64_t n = data.samples.size();
  const uint32_t K = net.pops.at(net.output).size;
  r.n = n;
  r.n_classes = K;
  r.has_labels = data.has_labels;
  if (n == 0) return r;
  SpikeBatch batch;
  std::vector<int32_t> labels;
  ForwardOutputs fwd;
  BackwardInputs bin;
  double sums[2] = {0.0, 0.0};  // correct, loss
  std::vector<uint32_t> idx;
  // Per-sample outputs: each rank fills its own samples, zeros elsewhere; a sum over ranks
  // then gathers them exactly (x + 0 = x).
  std::vector<double> pred, ro, first;
  if (keep_samples) {
    pred.assign(n, 0.0);
    ro.assign(n * K, 0.0);
    first.assign(n * K, 0.0);
  }
  std::vector<double> counts;
  std::vector<uint32_t> count_offset(net.pops.size(), 0);
  uint32_t n_lif = 0;
  for (uint32_t p = 0; p < net.pops.size(); ++p)
    if (net.pops[p].kind == PopKind::LIF) {
      count_offset[p] = n_lif;
      n_lif += net.pops[p].size;
    }
  counts.assign(n_lif, 0.0);
  for (uint64_t g0 = 0; g0 < n; g0 += batch_size) {
    const uint64_t gB = std::min<uint64_t>(batch_size, n - g0);
    const dist::Shard sh = dist::shard_of(gB, comm.rank(), comm.size());
    idx.resize(sh.end - sh.begin);
    std::iota(idx.begin(), idx.end(), uint32_t(g0 + sh.begin));
    make_batch(data, idx, net, batch, labels, r.stats);
    engine.forward(params, batch, fwd);
    for (uint32_t p = 0; p < net.pops.size(); ++p)
      for (size_t j = 0; j < fwd.spike_counts[p].size(); ++j) counts[count_offset[p] + j] += fwd.spike_counts[p][j];
    std::vector<int32_t> prediction(fwd.n_samples);
    if (data.has_labels) {
      LossResult lr = compute_loss(loss, fwd, labels, n, bin);
      sums[0] += lr.correct;
      sums[1] += lr.loss;
      prediction = lr.prediction;
    } else {
      for (uint32_t b = 0; b < fwd.n_samples; ++b)
        prediction[b] = predict(loss, fwd.readout.data() + size_t(b) * K, fwd.first_spike_step.data() + size_t(b) * K, K);
    }
    if (keep_samples)
      for (uint32_t b = 0; b < fwd.n_samples; ++b) {
        const uint64_t i = idx[b];
        pred[i] = prediction[b];
        for (uint32_t k = 0; k < K; ++k) {
          ro[i * K + k] = fwd.readout[size_t(b) * K + k];
          first[i * K + k] = fwd.first_spike_step[size_t(b) * K + k];
        }
      }
  }
  comm.allreduce_sum(std::span<double>(sums, 2));
  uint64_t st[4] = {r.stats.events, r.stats.spikes, r.stats.merged, r.stats.dropped_late};
  comm.allreduce_sum(std::span<uint64_t>(st, 4));
  r.stats = BatchStats{st[0], st[1], st[2], st[3]};
  comm.allreduce_sum(std::span<double>(counts));
  r.correct = uint64_t(sums[0] + 0.5);
  r.loss = sums[1];
  r.spike_counts.resize(net.pops.size());
  for (uint32_t p = 0; p < net.pops.size(); ++p)
    if (net.pops[p].kind == PopKind::LIF)
      r.spike_counts[p].assign(counts.begin() + count_offset[p], counts.begin() + count_offset[p] + net.pops[p].size);
  if (keep_samples) {
    comm.allreduce_sum(std::span<double>(pred));
    comm.allreduce_sum(std::span<double>(ro));
    comm.allreduce_sum(std::span<double>(first));
    r.readout = std::move(ro);
    r.prediction.assign(pred.begin(), pred.end());
    r.first_spike_step.assign(first.begin(), first.end());
    r.labels.resize(n);
    for (uint64_t i = 0; i < n; ++i) r.labels[i] = data.samples[i].label;
    if (data.has_labels) {
      r.confusion.assign(size_t(K) * K, 0);
      for (uint64_t i = 0; i < n; ++i) ++r.confusion[size_t(r.labels[i]) * K + size_t(r.prediction[i])];
    }
  }
  return r;
}

}  // namespace delayprop
