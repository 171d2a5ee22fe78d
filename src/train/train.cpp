#include "train/train.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <sstream>
#include <type_traits>
#include <utility>

#include "io/checkpoint.hpp"
#include "io/config_diff.hpp"
#include "io/model_file.hpp"
#include "io/version.hpp"
#include "train/evaluate.hpp"
#include "io/data/augment.hpp"
#include "io/data/dataset.hpp"
#include "core/error.hpp"
#include "core/loss.hpp"
#include "core/optimizer.hpp"
#include "core/rng.hpp"
#include "io/test_hooks.hpp"
#include "dist/agree.hpp"
#include "dist/launcher.hpp"
#include "dist/shard.hpp"
#include "kernels/common.hpp"
#include "kernels/factory.hpp"
#include "train/step.hpp"

namespace delayprop {
namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// Writes a text file whole or not at all: a temporary file, fsynced, renamed over `path`.
void write_text_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << text;
    f.flush();
    require(f.good(), tmp, ": cannot write: ", std::strerror(errno));
  }
  const int fd = ::open(tmp.c_str(), O_RDONLY);
  require(fd >= 0 && ::fsync(fd) == 0, tmp, ": cannot write (fsync failed)");
  ::close(fd);
  std::error_code ec;
  fs::rename(tmp, path, ec);
  require(!ec, path, ": cannot move into place: ", ec.message());
}

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}

double peak_memory_mb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_maxrss) / 1024.0;
}

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "--:--";
  const long t = long(s + 0.5);
  char buf[32];
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%02ld:%02ld", t / 60, t % 60);
  return buf;
}

class Trainer {
 public:
  Trainer(const Config& cfg, dist::Communicator& comm, const TrainOptions& opt)
      : cfg_(cfg), net_(cfg.net), comm_(comm), opt_(opt), layout_(cfg.net), root_(comm.rank() == 0) {}

  std::string run() {
    t_start_ = Clock::now();
    prepare();
    TrainState st = start_state();
    json last_metrics = open_metrics(st.epoch, resumed_);  // the last finished epoch's line, if any
    bool stopped_early = false;
    for (uint32_t epoch = st.epoch; epoch < cfg_.train.epochs; ++epoch) {
      const EpochTimes times = train_epoch(st, epoch);
      last_metrics = end_epoch(st, epoch, times);
      const bool last = st.epoch >= cfg_.train.epochs;
      const bool stop = cfg_.train.patience > 0 && cfg_.train.early_stop != "none" &&
                        st.epochs_since_best >= cfg_.train.patience;
      if (last || stop || (cfg_.train.checkpoint_every && st.epoch % cfg_.train.checkpoint_every == 0)) checkpoint(st);
      if (stop) {
        stopped_early = true;
        break;
      }
    }
    return finish(st, last_metrics, stopped_early);
  }

 private:
  // Where an epoch's time goes on this rank (training batches only): data, forward,
  // backward, all-reduce, update.
  struct EpochTimes {
    Clock::time_point start;
    double data = 0, fwd = 0, bwd = 0, comm = 0, update = 0;
  };

  static double seconds_since(Clock::time_point t) {
    return std::chrono::duration<double>(Clock::now() - t).count();
  }

  // Every check that needs no state: the ranks' configs, the memory, the run directory, the
  // data (and the ranks' data); then the engine.
  void prepare() {
    check_ranks_agree_on_config();
    check_engine_memory(net_, cfg_.engine, cfg_.source);  // before anything large is allocated
    if (root_) check_out_dir();
    data_ = load_dataset(cfg_.data, net_);
    require(!data_.train.samples.empty(), "data: the training set is empty");
    fingerprint_ = data_fingerprint(data_);
    check_ranks_agree_on_data();
    EngineOptions engine_opt = cfg_.engine;
    // engine.device = -1 (auto): the GPU of this node-local rank (docs/GPU.md).
    if (engine_opt.backend == "cuda") engine_opt.device = dist::gpu_for_this_rank(engine_opt.device);
    engine_ = make_engine(net_, engine_opt);
  }

  // The state to start from: the checkpoint's on --resume (when there is one), else fresh
  // parameters. Only now, every check passed, is the run directory written.
  TrainState start_state() {
    adam_.emplace(net_, cfg_.adam);
    TrainState st;
    resumed_ = opt_.resume && load_state(st);
    if (root_) start_run_dir();
    comm_.barrier();
    if (!resumed_) {
      st.params = init_params(net_, cfg_.train.seed);
      st.best_params = st.params;
      st.adam_m.assign(net_.n_params, 0.0);
      st.adam_v.assign(net_.n_params, 0.0);
    }
    if (st.epoch_spike_counts.size() != layout_.total) st.epoch_spike_counts.assign(layout_.total, 0.0);
    adam_->m() = st.adam_m;
    adam_->v() = st.adam_v;
    adam_->set_steps(st.adam_t);
    prior_wall_ = st.wall_time_s;
    // engine.backend = "cuda": device-resident steps unless engine.resident = false.
    const ResidentSpec spec{cfg_.loss, cfg_.reg, cfg_.adam, cfg_.train.output_bump};
    step_.emplace(net_, *engine_, comm_, spec, cfg_.engine.backend == "cuda" && cfg_.engine.resident);
    return st;
  }

  // The batches of one epoch from st.batch on. Throws Preempted when asked to stop.
  EpochTimes train_epoch(TrainState& st, uint32_t epoch) {
    // Augmented examples are a function of (seed, epoch, example): every rank builds the same.
    EventDataset augmented;
    const bool augment = cfg_.data.shift > 0 || cfg_.data.blend > 0;
    if (augment) augmented = augment_epoch(data_.train, cfg_.data.shift, cfg_.data.blend, cfg_.train.seed, epoch);
    const EventDataset& train_set = augment ? augmented : data_.train;
    const uint64_t n = train_set.samples.size();
    std::vector<uint32_t> order;
    if (cfg_.train.shuffle) {
      order = dist::epoch_order(n, cfg_.train.seed, epoch);
    } else {
      order.resize(n);
      std::iota(order.begin(), order.end(), 0u);
    }
    uint32_t n_batches = uint32_t(dist::batches_per_epoch(n, cfg_.train.batch_size));
    if (cfg_.train.max_batches) n_batches = std::min(n_batches, cfg_.train.max_batches);
    // Resident steps without augmentation: the training set's input spikes go to the device
    // once (when they fit) and each batch is assembled there from its sample indices.
    if (step_->resident() && !augment && !dataset_tried_) {
      dataset_tried_ = true;
      std::vector<uint32_t> all(n);
      std::iota(all.begin(), all.end(), 0u);
      SpikeBatch spikes;
      BatchStats whole;
      make_batch(data_.train, all, net_, spikes, train_labels_, whole, &train_sample_stats_);
      if (!step_->set_dataset(spikes)) {
        train_labels_.clear();
        train_sample_stats_.clear();
      }
    }
    EpochTimes times;
    times.start = Clock::now();
    step_->upload(st.params, *adam_);  // resident steps: the epoch starts from the host's state
    const uint32_t first_batch = st.batch;
    auto lap = [last = Clock::now()](double& acc) mutable {
      const auto now = Clock::now();
      acc += std::chrono::duration<double>(now - last).count();
      last = now;
    };
    for (uint32_t k = st.batch; k < n_batches; ++k) {
      lap(times.update);  // the bookkeeping at the end of the previous batch
      train_batch(st, train_set, order, k, epoch, times, lap);
      st.batch = k + 1;
      if (root_ && opt_.progress) progress(epoch, k + 1, n_batches, first_batch, times.start, st);
      if (cfg_.train.checkpoint_batches && (k + 1) % cfg_.train.checkpoint_batches == 0 && k + 1 < n_batches)
        checkpoint(st);
      kill_point("batch");
      // Asked to stop (a signal on any rank): every rank leaves at this same batch.
      if (opt_.stop && comm_.any(opt_.stop->load(std::memory_order_relaxed) != 0)) {
        checkpoint(st);
        throw Preempted("stopped on request after epoch " + std::to_string(epoch + 1) + ", batch " +
                        std::to_string(k + 1) + " of " + std::to_string(n_batches) + "; checkpoint written to " +
                        opt_.out_dir + "/checkpoint.h5, continue with --resume");
      }
    }
    step_->download(st.params, *adam_);
    return times;
  }

  // Global batch k: this rank's shard forward, spike counts all-reduced, loss, backward,
  // the exact gradient sum all-reduced, the same Adam step on every rank, the epoch's sums.
  template <class Lap>
  void train_batch(TrainState& st, const EventDataset& train_set, const std::vector<uint32_t>& order, uint32_t k,
                   uint32_t epoch, EpochTimes& times, Lap& lap) {
    const uint64_t gB = dist::global_batch(order.size(), cfg_.train.batch_size, k).size();
    const std::span<const uint32_t> mine =
        dist::rank_batch(order, cfg_.train.batch_size, k, comm_.rank(), comm_.size());
    const bool on_device = step_->has_dataset();  // the batch is assembled on the device
    if (on_device) {
      labels_.clear();
      BatchStats b;
      for (uint32_t i : mine) {
        labels_.push_back(train_labels_[i]);
        b += train_sample_stats_[i];
      }
      add_batch_stats(train_set, net_, b, stats_);
    } else {
      make_batch(train_set, mine, net_, batch_, labels_, stats_);
    }
    lap(times.data);
    const double decay = std::pow(cfg_.sched.epoch_decay, double(epoch));
    double lr_w = cfg_.sched.lr_weights;
    if (cfg_.sched.weight_schedule == "ease_in")
      lr_w = std::min(lr_w, cfg_.sched.ease_in_start * std::pow(cfg_.sched.ease_in_factor, double(adam_->steps())));
    const auto step_lap = [&](StepPhase p) {
      lap(p == StepPhase::forward ? times.fwd : p == StepPhase::backward ? times.bwd : times.comm);
    };
    const StepSums sums =
        on_device ? step_->run(st.params, *adam_, mine, labels_, gB, lr_w * decay, cfg_.sched.delay_lr(epoch), step_lap)
                  : step_->run(st.params, *adam_, batch_, labels_, gB, lr_w * decay, cfg_.sched.delay_lr(epoch),
                               step_lap);
    const std::vector<uint32_t>& counts = step_->counts();
    st.epoch_sums.loss += sums.loss * double(gB);  // per-sample loss sum
    st.epoch_sums.correct += sums.correct;
    st.epoch_sums.samples += sums.samples;
    for (uint32_t i = 0; i < layout_.total; ++i) st.epoch_spike_counts[i] += counts[i];
    st.samples_trained += gB;
    samples_this_process_ += gB;
  }

  // After an epoch's batches: the silent-neuron bump, the replica check, the evaluations,
  // the best epoch so far; the cursors move to the next epoch; rank 0 writes the metrics
  // line. Returns the line.
  json end_epoch(TrainState& st, uint32_t epoch, const EpochTimes& times) {
    if (cfg_.train.silent_bump > 0) bump_silent_hidden(st.params, st.epoch_spike_counts, st.epoch_sums.samples);
    check_replicas(st.params, epoch);
    json m;
    m["epoch"] = epoch + 1;
    m["train_loss"] = st.epoch_sums.samples > 0 ? st.epoch_sums.loss / st.epoch_sums.samples : 0.0;
    m["train_accuracy"] = st.epoch_sums.samples > 0 ? st.epoch_sums.correct / st.epoch_sums.samples : 0.0;
    m["hidden_spikes_per_neuron"] = hidden_rate(st);
    m["activity"] = population_activity(st);
    m["lr_weights"] = cfg_.sched.lr_weights * std::pow(cfg_.sched.epoch_decay, double(epoch));
    m["lr_delays"] = cfg_.sched.delay_lr(epoch);
    double metric = m["train_accuracy"];
    if (cfg_.train.eval_train) {
      const auto e = eval(data_.train, st.params);
      m["train_eval_accuracy"] = e.accuracy();
      metric = e.accuracy();
      if (e.accuracy() >= 1.0 && st.presentations_to_100 < 0) st.presentations_to_100 = int32_t(epoch + 1);
    }
    if (data_.has_valid) {
      const auto e = eval(data_.valid, st.params);
      m["valid_accuracy"] = e.accuracy();
      m["valid_loss"] = e.loss;
      if (early_stop_on_valid()) metric = e.accuracy();
    }
    if (!data_.test.samples.empty() && cfg_.train.eval_test_every_epoch) {
      const auto e = eval(data_.test, st.params);
      m["test_accuracy"] = e.accuracy();
      m["test_loss"] = e.loss;
    }
    // Warm-up epochs (train.min_epochs) are not candidates: while the learning rates are
    // high the validation accuracy jumps between epochs, and a lucky one would be kept. A run
    // no longer than the warm-up (a smoke run) still keeps its last epoch.
    const uint32_t warm_up = std::min(cfg_.train.min_epochs, cfg_.train.epochs - 1);
    if (epoch >= warm_up) {
      if (metric > st.best_metric || st.best_epoch <= warm_up) {
        st.best_metric = metric;
        st.best_epoch = epoch + 1;
        st.best_params = st.params;
        st.epochs_since_best = 0;
      } else {
        ++st.epochs_since_best;
      }
    }
    m["epoch_time_s"] = seconds_since(times.start);
    m["time_split_s"] = {{"data", times.data}, {"forward", times.fwd}, {"backward", times.bwd},
                         {"allreduce", times.comm}, {"update", times.update}};  // training batches only, rank 0
    m["dropped_late_events_so_far"] = stats_.dropped_late;
    m["delay_histograms"] = delay_histograms(st.params);
    st.epoch = epoch + 1;
    st.batch = 0;
    st.epoch_sums = {};
    std::fill(st.epoch_spike_counts.begin(), st.epoch_spike_counts.end(), 0.0);
    if (root_) {
      metrics_ << m.dump() << "\n";
      metrics_.flush();
      require(metrics_.good(), opt_.out_dir, "/metrics.jsonl: cannot write: ", std::strerror(errno));
      if (opt_.progress) end_of_epoch_line(m);
      if (opt_.on_epoch) opt_.on_epoch(m.dump());
    }
    return m;
  }

  bool early_stop_on_valid() const { return cfg_.train.early_stop == "validation" && data_.has_valid; }

  // The summary (the model of the best epoch on the test set); rank 0 writes model.h5 and
  // summary.json.
  std::string finish(const TrainState& st, const json& last_metrics, bool stopped_early) {
    json s;
    s["status"] = "done";
    add_build_info(s);
    s["config"] = cfg_.source;
    s["epochs"] = st.epoch;
    s["best_epoch"] = st.best_epoch;
    s["stopped_early"] = stopped_early;
    s["early_stop_metric"] = early_stop_on_valid() ? "validation" : (cfg_.train.eval_train ? "train_eval" : "train");
    s["best_metric"] = st.best_metric;
    s["train_accuracy"] = last_metrics.value("train_accuracy", 0.0);
    s["loss"] = last_metrics.value("train_loss", 0.0);
    if (data_.has_valid) {
      const auto e = eval(data_.valid, st.best_params);
      s["valid_accuracy"] = e.accuracy();
      s["valid_loss"] = e.loss;
    }
    if (!data_.test.samples.empty()) {
      const auto e = eval(data_.test, st.best_params);
      s["test_accuracy"] = e.accuracy();
      s["test_loss"] = e.loss;
      s["test_correct"] = e.correct;
      s["test_samples"] = e.n;
    }
    s["eval_batch_size"] = eval_batch_size(cfg_.train.batch_size);
    s["data_fingerprint"] = fingerprint_;
    if (cfg_.train.eval_train) s["presentations_to_100"] = st.presentations_to_100;
    s["wall_time_s"] = prior_wall_ + seconds_since(t_start_);
    s["samples_per_s"] = samples_this_process_ / std::max(1e-9, seconds_since(t_start_));
    s["peak_memory_mb"] = peak_memory_mb();
    s["world_size"] = comm_.size();
    s["threads"] = cfg_.engine.threads;
    s["backend"] = cfg_.engine.backend;
    s["batches_on_device"] = step_ && step_->has_dataset();
    s["dropped_late_events"] = stats_.dropped_late;
    s["dropped_late_events_eval"] = eval_stats_.dropped_late;
    s["data"] = data_.description;
    s["n_params"] = net_.n_params;
    s["model"] = "model.h5";
    const std::string text = s.dump(2);
    if (root_) {
      ModelMeta meta;
      meta.config_toml = cfg_.resolved_toml;
      meta.data_fingerprint = fingerprint_;
      meta.data_description = data_.description;
      meta.best_epoch = st.best_epoch;
      meta.epochs = st.epoch;
      meta.best_metric = st.best_metric;
      meta.summary_json = text;
      write_model(opt_.out_dir + "/model.h5", net_, st.best_params, st.params, meta);
      write_text_atomically(opt_.out_dir + "/summary.json", text + "\n");
    }
    comm_.barrier();
    return text;
  }

  // Rank 0, before anything is written: a directory holding a run needs --resume or
  // --overwrite.
  void check_out_dir() const {
    require(!(opt_.resume && opt_.overwrite), "--resume and --overwrite exclude each other");
    if (opt_.resume || opt_.overwrite) return;
    for (const auto& name : run_files())
      require(!fs::exists(opt_.out_dir + "/" + name), opt_.out_dir, " holds a run (", name,
              "); continue it with --resume or replace it with --overwrite");
  }

  // Rank 0, once every check passed: the directory, its config.toml (written whole).
  void start_run_dir() {
    fs::create_directories(opt_.out_dir);
    if (opt_.overwrite) {
      std::error_code ec;
      for (const auto& name : run_files()) fs::remove(opt_.out_dir + "/" + name, ec);
      for (const char* tmp : {"/checkpoint.h5.tmp", "/summary.json.tmp", "/model.h5.tmp", "/metrics.jsonl.tmp"})
        fs::remove(opt_.out_dir + tmp, ec);
    }
    write_text_atomically(opt_.out_dir + "/config.toml", cfg_.resolved_toml);
  }

  // Rank 0, on --resume: the config must be the run's own, but for the allowed keys
  // (config_diff.hpp); --force accepts any change. Changes are logged (stderr, metrics header).
  void check_resume_config(const std::string& old_toml, const std::string& where) {
    const auto changes = config_changes(old_toml, cfg_.resolved_toml);
    std::string refused;
    for (const auto& ch : changes) {
      const std::string line = ch.key + ": " + ch.old_value + " -> " + ch.new_value;
      config_changes_.push_back(line);
      if (!ch.allowed) refused += (refused.empty() ? "" : ", ") + line;
    }
    if (!refused.empty() && !opt_.force)
      fail(opt_.out_dir, ": --resume with a config that differs from the run's (", where, ") in ", refused,
           "; resume with the run's config, start a new run, or pass --force to accept the change");
    for (const auto& l : config_changes_) std::cerr << "resume: config changed: " << l << "\n";
  }

  bool load_state(TrainState& st) {
    // Rank 0 reads; everyone receives the same state.
    int found = 0;
    std::string used;
    if (root_) {
      auto ck = read_checkpoint(opt_.out_dir, net_, &used);
      if (ck) {
        st = std::move(*ck);
        found = 1;
        check_resume_config(st.config_toml, used);
        if (!st.data_fingerprint.empty() && st.data_fingerprint != fingerprint_) {
          const std::string line = "data fingerprint: " + st.data_fingerprint + " -> " + fingerprint_;
          require(opt_.force, opt_.out_dir, ": --resume with other training data than the run's (", line,
                  "); pass --force to accept");
          config_changes_.push_back(line);
          std::cerr << "resume: " << line << "\n";
        }
        check_cursors(st, used);
      } else if (fs::exists(opt_.out_dir + "/config.toml")) {
        // Killed before its first checkpoint: starts again, but only with its own config.
        check_resume_config(read_text(opt_.out_dir + "/config.toml"), opt_.out_dir + "/config.toml");
      }
    }
    comm_.broadcast_value(found, 0);
    if (!found) return false;
    st.visit([&](const char*, auto& field, auto...) {
      if constexpr (std::is_same_v<std::decay_t<decltype(field)>, std::vector<double>>) {
        uint64_t n = field.size();
        comm_.broadcast_value(n, 0);
        field.resize(n);
        comm_.broadcast(std::as_writable_bytes(std::span<double>(field)), 0);
      } else {
        comm_.broadcast_value(field, 0);
      }
    });
    if (root_) std::cerr << "resuming from " << used << " at epoch " << st.epoch + 1 << ", batch " << st.batch << "\n";
    return true;
  }

  // Ranks agree before they start: the same resolved config (engine.threads and
  // engine.device may differ, results do not depend on them; data.path may, the data's
  // fingerprint is compared instead) and the same data. Otherwise every rank ends with the
  // same message naming the keys.
  void check_ranks_agree_on_config() {
    if (comm_.size() == 1) return;
    dist::KeyValues entries;
    for (auto& [k, v] : config_entries(cfg_))
      if (k != "engine.threads" && k != "engine.device" && k != "data.path") entries.emplace_back(k, v);
    report_disagreement(dist::differing_keys(comm_, entries), "config");
  }
  void check_ranks_agree_on_data() {
    if (comm_.size() == 1) return;
    dist::KeyValues entries;
    for (auto [name, set] : {std::pair<const char*, const EventDataset*>{"train", &data_.train},
                             {"valid", &data_.valid}, {"test", &data_.test}})
      entries.emplace_back(std::string("data.") + name + " (as loaded): samples", std::to_string(set->samples.size()));
    entries.emplace_back("data (as loaded): fingerprint", fingerprint_);
    report_disagreement(dist::differing_keys(comm_, entries), "data");
  }

  void report_disagreement(const std::vector<std::string>& keys, const char* what) const {
    if (keys.empty()) return;
    std::string list;
    for (const auto& k : keys) list += (list.empty() ? "" : "; ") + k;
    fail(cfg_.source, ": the ", comm_.size(), " ranks run with different ", what, ": ", list);
  }

  // A checkpoint's epoch and batch cursors must lie inside this config's run.
  void check_cursors(const TrainState& st, const std::string& path) const {
    const uint32_t E = cfg_.train.epochs;
    require(st.epoch <= E, path, ": '/epoch' = ", st.epoch, " is out of range [0, ", E, "] (train.epochs = ", E, ")");
    const uint64_t n = data_.train.samples.size() + cfg_.data.blend;
    uint64_t nb = dist::batches_per_epoch(n, cfg_.train.batch_size);
    if (cfg_.train.max_batches) nb = std::min<uint64_t>(nb, cfg_.train.max_batches);
    // batch = nb: a stop request came after the epoch's last batch, before its end-of-epoch
    // work. A run whose train.epochs was lowered on resume (an allowed change) may hold a
    // cursor in an epoch that will not run: it then ends at once.
    require(st.batch <= nb, path, ": '/batch' = ", st.batch, " is out of range [0, ", nb, "] (", nb,
            " batches per epoch)");
    require(st.epoch_spike_counts.empty() || st.epoch_spike_counts.size() == layout_.total, path, ": '/epoch_spike_counts' has ",
            st.epoch_spike_counts.size(), " values, the network's LIF neurons ", layout_.total);
  }

  // Writes a checkpoint of st with the optimiser's state and the training time so far.
  void checkpoint(TrainState& st) {
    step_->download(st.params, *adam_);  // resident steps: the device's newer state
    st.adam_m = adam_->m();
    st.adam_v = adam_->v();
    st.adam_t = adam_->steps();
    st.wall_time_s = prior_wall_ + seconds_since(t_start_);
    if (root_) write_checkpoint(opt_.out_dir, net_, st, cfg_.resolved_toml, comm_.size(), fingerprint_);
    comm_.barrier();
  }

  // Rank 0: opens metrics.jsonl; on resume keeps the lines of the epochs the checkpoint
  // covers (later ones are computed again) and returns the last of them. The file is
  // rewritten whole (temporary file, fsync, rename), then appended to.
  json open_metrics(uint32_t epoch, bool resumed) {
    json last = json::object();
    if (!root_) return last;
    const std::string path = opt_.out_dir + "/metrics.jsonl";
    std::vector<std::string> keep;
    if (resumed) {
      std::ifstream in(path);
      for (std::string line; std::getline(in, line);) {
        try {
          json m = json::parse(line);
          if (!m.contains("epoch")) continue;  // the header record (written anew below)
          if (m.value("epoch", 0u) <= epoch) {
            keep.push_back(line);
            last = std::move(m);
          }
        } catch (const json::exception&) {
        }
      }
    }
    json h;
    h["record"] = "header";
    h["format_version"] = 1;
    add_build_info(h);
    h["config"] = cfg_.source;
    h["world_size"] = comm_.size();
    h["data_fingerprint"] = fingerprint_;
    if (!config_changes_.empty()) h["resumed_with_changes"] = config_changes_;
    std::ostringstream text;
    text << h.dump() << "\n";
    for (const auto& l : keep) text << l << "\n";
    write_text_atomically(path, text.str());
    metrics_.open(path, std::ios::app);
    require(metrics_.good(), path, ": cannot write");
    return last;
  }

  // A hidden neuron is silent when it fired at most silent_below spikes per training sample in
  // the epoch (0: not at all). A neuron that fires rarely gets almost no gradient (gradients
  // flow through spikes only), so it cannot recover by learning alone.
  void bump_silent_hidden(std::vector<double>& params, const std::vector<double>& epoch_counts,
                          double epoch_samples) const {
    const double limit = cfg_.train.silent_below * epoch_samples;
    for (uint32_t p = 0; p < net_.pops.size(); ++p) {
      if (net_.pops[p].kind != PopKind::LIF || p == net_.output) continue;
      for (uint32_t j = 0; j < net_.pops[p].size; ++j)
        if (epoch_counts[layout_.offset[p] + j] <= limit) bump_incoming(net_, params, p, j, cfg_.train.silent_bump, true);
    }
  }

  // Spikes of LIF population p over the epoch's training batches, and how many of its neurons
  // did not fire.
  std::pair<double, uint32_t> epoch_spikes(const TrainState& st, uint32_t p) const {
    double spikes = 0;
    uint32_t silent = 0;
    for (uint32_t j = 0; j < net_.pops[p].size; ++j) {
      spikes += st.epoch_spike_counts[layout_.offset[p] + j];
      silent += st.epoch_spike_counts[layout_.offset[p] + j] == 0;
    }
    return {spikes, silent};
  }

  // Per LIF population: spikes per neuron and training sample, and the fraction of its neurons
  // that did not fire in the epoch.
  json population_activity(const TrainState& st) const {
    json a = json::object();
    for (uint32_t p = 0; p < net_.pops.size(); ++p) {
      if (net_.pops[p].kind != PopKind::LIF) continue;
      const auto [spikes, silent] = epoch_spikes(st, p);
      const double n = net_.pops[p].size, samples = st.epoch_sums.samples;
      a[net_.pops[p].name] = {{"spikes_per_neuron", samples > 0 ? spikes / n / samples : 0.0},
                              {"silent_fraction", silent / n}};
    }
    return a;
  }

  double hidden_rate(const TrainState& st) const {
    double spikes = 0, neurons = 0;
    for (uint32_t p = 0; p < net_.pops.size(); ++p) {
      if (net_.pops[p].kind != PopKind::LIF || p == net_.output) continue;
      spikes += epoch_spikes(st, p).first;
      neurons += net_.pops[p].size;
    }
    return neurons > 0 && st.epoch_sums.samples > 0 ? spikes / neurons / st.epoch_sums.samples : 0.0;
  }

  // Accuracy and mean loss of a data set, sharded over ranks: the one evaluation path.
  EvalResult eval(const EventDataset& d, const std::vector<double>& params) {
    EvalResult r = evaluate(net_, cfg_.loss, *engine_, comm_, d, params, eval_batch_size(cfg_.train.batch_size), false);
    eval_stats_ += r.stats;
    return r;
  }

  static void add_build_info(json& j) {
    const BuildInfo& b = build_info();
    j["version"] = b.version;
    j["git_commit"] = b.git_commit;
    j["build_options"] = b.options;
  }

  // Per connection with learned delays: a histogram of its delays, 20 bins over
  // [0, max_delay] (the last bin includes max_delay).
  json delay_histograms(const std::vector<double>& params) const {
    json h = json::object();
    constexpr int kBins = 20;
    for (const auto& c : net_.conns) {
      if (!c.learn_delays || c.max_delay_ms <= 0) continue;
      std::vector<uint64_t> counts(kBins, 0);
      for (size_t k = 0; k < c.n_synapses(); ++k) {
        const double d = params[c.delay_offset + k];
        counts[std::clamp(int(d / c.max_delay_ms * kBins), 0, kBins - 1)]++;
      }
      h[c.name] = {{"max_delay", c.max_delay_ms}, {"counts", counts}};
    }
    return h;
  }

  // Every rank must hold the same parameters; a mismatch means the replicas diverged.
  void check_replicas(const std::vector<double>& params, uint32_t epoch) {
    if (comm_.size() > 1 && !dist::same_on_all_ranks(comm_, std::as_bytes(std::span<const double>(params))))
      fail("parameters differ between ranks after epoch ", epoch + 1, ": replicas diverged");
  }

  void progress(uint32_t epoch, uint32_t done, uint32_t total, uint32_t first, Clock::time_point t0,
                const TrainState& st) {
    const double now = seconds_since(t0);
    if (now - last_progress_ < 1.0 && done < total) return;
    last_progress_ = now;
    const double per_batch = now / std::max(1u, done - first);
    const double eta_epoch = per_batch * (total - done);
    const double eta_total = eta_epoch + per_batch * total * (cfg_.train.epochs - epoch - 1);
    if (!isatty(STDERR_FILENO)) return;
    std::fprintf(stderr, "\repoch %u/%u  batch %u/%u  loss %.4f  acc %5.1f%%  ETA %s (run, at most)   ", epoch + 1,
                 cfg_.train.epochs, done, total, st.epoch_sums.samples ? st.epoch_sums.loss / st.epoch_sums.samples : 0.0,
                 st.epoch_sums.samples ? 100.0 * st.epoch_sums.correct / st.epoch_sums.samples : 0.0,
                 format_duration(eta_total).c_str());
    std::fflush(stderr);
  }

  void end_of_epoch_line(const json& m) {
    std::ostringstream os;
    os << "epoch " << m["epoch"].get<int>() << "/" << cfg_.train.epochs;
    char buf[64];
    std::snprintf(buf, sizeof buf, "  loss %.4f", m["train_loss"].get<double>());
    os << buf;
    for (const char* k : {"train_accuracy", "train_eval_accuracy", "valid_accuracy", "test_accuracy"})
      if (m.contains(k)) {
        std::snprintf(buf, sizeof buf, "  %s %.2f%%", k, 100.0 * m[k].get<double>());
        os << buf;
      }
    std::snprintf(buf, sizeof buf, "  %.1f s", m["epoch_time_s"].get<double>());
    os << buf;
    std::fprintf(stderr, "%s%s\n", isatty(STDERR_FILENO) ? "\r" : "", os.str().c_str());
  }

  const Config& cfg_;
  const Network& net_;
  dist::Communicator& comm_;
  TrainOptions opt_;
  CountLayout layout_;
  bool root_;
  DataSplits data_;
  std::unique_ptr<Engine> engine_;
  BatchStats stats_;       // training batches of this process
  BatchStats eval_stats_;  // evaluation batches (all ranks)
  std::string fingerprint_;
  std::optional<Adam> adam_;  // made once the memory check passed
  bool resumed_ = false;
  Clock::time_point t_start_;
  double prior_wall_ = 0.0;  // training time of earlier processes (resumed runs)
  uint64_t samples_this_process_ = 0;
  std::optional<TrainStep> step_;  // host or device-resident steps (train/step.hpp)
  // Buffers of a training batch, reused.
  SpikeBatch batch_;
  std::vector<int32_t> labels_;
  // The training set on the device (resident steps, no augmentation): every sample's label
  // and make_batch counters; tried once per run.
  bool dataset_tried_ = false;
  std::vector<int32_t> train_labels_;
  std::vector<BatchStats> train_sample_stats_;
  std::ofstream metrics_;
  std::vector<std::string> config_changes_;  // accepted on --resume ("key: old -> new")
  double last_progress_ = -1.0;
};

}  // namespace

const std::vector<std::string>& run_files() {
  static const std::vector<std::string> files = {"config.toml",        "metrics.jsonl", "checkpoint.h5",
                                                 "checkpoint.prev.h5", "summary.json",  "model.h5"};
  return files;
}

std::string train(const Config& cfg, dist::Communicator& comm, const TrainOptions& opt) {
  require(!opt.out_dir.empty(), "train: --out DIR is required");
  return Trainer(cfg, comm, opt).run();
}

}  // namespace delayprop
