#pragma once
// A sweep: the sweep file (docs/SWEEPS.md), its expansion into runs, the run commands and
// the manifest. A run is one (override set, seed); its directory name is derived from its
// overrides and seed only, so relaunching a sweep finds its earlier runs: a run whose
// summary.json says "done" is skipped, one with a checkpoint but no summary is resumed.
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace delayprop::sweep {

namespace fs = std::filesystem;

// One override set: --set items plus the few keys that are not config keys.
struct Setting {
  std::vector<std::string> sets;  // "key=value"
  std::optional<std::string> base;
  std::optional<int> ranks, threads;
  std::optional<std::vector<int64_t>> seeds;
  void merge(const Setting& o);
};

struct Level {
  std::string label;  // as shown in tables and names
  Setting setting;
};

struct Axis {
  std::string column;  // table column
  std::string prefix;  // in run names: "<prefix>-<label>"
  std::vector<Level> levels;
};

struct Group {
  std::string label;  // empty: the sweep has no [[group]]s
  Setting setting;
  std::vector<Level> list;  // [[list]] entries (empty: one implicit entry)
  std::vector<Axis> grid;
};

struct SlurmSpec {
  std::string partition, time, mem, account;
  int cpus_per_task = 1;
  int max_parallel = 0;
  std::vector<std::string> extra;  // further #SBATCH lines
  std::vector<std::string> setup;  // shell lines run before the task (module load ...)
  std::string launcher = "mpirun";  // multi-rank runs: mpirun | srun
};

struct Sweep {
  std::string name;
  fs::path file, out_dir, train;
  std::string mpirun = "mpirun";
  Setting common;
  std::vector<std::string> cli_sets;  // --set on the command line: applied last, to every run
  std::vector<Group> groups;
  SlurmSpec slurm;
};

// What the command line overrides in a sweep file.
struct SweepOverrides {
  std::optional<std::string> out_dir, train, mpirun;
  std::vector<std::string> sets;
};

// Parses the text of sweep file `file` (relative paths are taken from the current
// directory); an error names the file and the key.
Sweep parse_sweep(const std::string& text, const fs::path& file, const SweepOverrides& over);
Sweep load_sweep(const fs::path& file, const SweepOverrides& over);

struct Run {
  size_t index = 0;
  std::string name, point;  // point: the name without the seed (one grid point)
  std::vector<std::pair<std::string, std::string>> columns;  // (column, level) for tables
  fs::path dir, base;
  std::vector<std::string> sets;
  int64_t seed = 1;
  int ranks = 1;
  std::optional<int> threads;
  std::vector<std::string> command;  // without --resume
};

// Every run of the sweep: per group, per [[list]] entry, the grid's points (the last axis
// fastest), per seed.
std::vector<Run> expand(const Sweep& s);

// The command of a run; `ranks` > 1 goes through the launcher (mpirun -np R, or srun -n R).
std::vector<std::string> train_command(const Sweep& s, const Run& r, const std::string& launcher);

enum class RunState { Todo, Resume, Done };
RunState run_state(const fs::path& dir);
const char* state_name(RunState s);
// The command that starts a run: its manifest command, plus --resume when a checkpoint
// waits, or --overwrite for a run killed before its first checkpoint (nothing to keep).
std::vector<std::string> launch_command(const Run& r, RunState st);

nlohmann::json manifest_json(const Sweep& s, const std::vector<Run>& runs);

// Expands the sweep, checks every distinct config (by loading it, then with the trainer's
// --check), with copy_configs points the runs at copies of their base configs (queued
// tasks do not see later edits), fills in the commands and writes OUT_DIR/manifest.json.
std::vector<Run> prepare(const Sweep& s, const std::string& launcher, bool copy_configs = false);

}  // namespace delayprop::sweep
