#pragma once
// The subcommands of delayprop-sweep (docs/SWEEPS.md). Each returns the exit code.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sweep/sweep.hpp"

namespace delayprop::sweep {

// List the runs and their states; write OUT_DIR/manifest.json.
int cmd_plan(const Sweep& s);
// Run the runs not done yet here, `jobs` at a time.
int cmd_local(const Sweep& s, int jobs);

// Command-line settings of the array job, over the sweep file's [slurm] table.
struct SlurmOptions {
  std::optional<std::string> partition, time, mem, account, launcher, template_file;
  std::optional<int> cpus_per_task, max_parallel;
  std::vector<std::string> sbatch_args;  // further #SBATCH lines
  bool submit = false;                   // run sbatch
  bool resubmit = false;                 // submit, leaving this sweep's queued or running tasks alone
};
// Write OUT_DIR/sweep.sbatch and OUT_DIR/submit.sh (and submit).
int cmd_slurm(Sweep s, const SlurmOptions& opt);

// Run one run of a manifest (what each array task does), passing SIGTERM/SIGUSR1/SIGINT on
// to it as SIGUSR1.
int cmd_run(const fs::path& manifest, long long index);

struct AggregateOptions {
  bool plot = true;
  std::optional<std::string> plot_script, python;
};
// results.csv, points.csv and results.md in `dir` (and figures).
int cmd_aggregate(const fs::path& dir, const AggregateOptions& opt);

}  // namespace delayprop::sweep
