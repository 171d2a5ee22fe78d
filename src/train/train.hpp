#pragma once
// The training loop: epochs over shuffled, sharded batches; forward, loss, backward,
// gradient all-reduce and the same Adam step on every rank; evaluation, early stopping,
// checkpoints and metrics. Rank 0 alone prints and writes files.
#include <atomic>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/config.hpp"
#include "dist/comm.hpp"

namespace delayprop {

struct TrainOptions {
  std::string out_dir;
  bool resume = false;     // continue from out_dir's checkpoint (from the start if it has none)
  bool overwrite = false;  // replace the run in out_dir (its run files are removed first)
  bool force = false;      // resume although the config changed beyond the allowed keys
  bool progress = true;    // progress line with ETA on stderr (rank 0)
  // Set (to non-zero) by a signal handler on any rank: at the next batch boundary every rank
  // stops (they agree through a collective), a checkpoint is written and train() throws
  // Preempted. Null: never stop early.
  const std::atomic<int>* stop = nullptr;
  // Rank 0, after every epoch: that epoch's metrics.jsonl line (docs/FORMATS.md).
  std::function<void(const std::string& metrics_json)> on_epoch;
};

// Exit status of delayprop-train after a checkpoint on request (SIGTERM, SIGUSR1):
// EX_TEMPFAIL, "try again" -- resume with --resume.
constexpr int kExitPreempted = 75;

struct Preempted : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The files of a run in its directory; a directory holding any of them is a run.
const std::vector<std::string>& run_files();

// Runs training as configured; returns the summary written to out_dir/summary.json. Nothing
// is written before the checks pass: out_dir must hold no run unless resume or overwrite is
// set; a resumed run's config must match (config_diff.hpp) unless force is set.
std::string train(const Config& cfg, dist::Communicator& comm, const TrainOptions& opt);

}  // namespace delayprop
