// delayprop-sweep: hyper-parameter sweeps of delayprop-train, here or on SLURM
// (docs/SWEEPS.md). The work is done by the sweep layer (src/sweep/); this is the command
// line.
#include <iostream>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "cli.hpp"
#include "core/error.hpp"
#include "sweep/commands.hpp"
#include "sweep/sweep.hpp"

using namespace delayprop;
using namespace delayprop::sweep;

namespace {

const Cli kCli(
    "delayprop-sweep",
    "usage: delayprop-sweep plan SWEEP.toml [COMMON]\n"
    "       delayprop-sweep local SWEEP.toml [-j K] [COMMON]\n"
    "       delayprop-sweep slurm SWEEP.toml [--submit | --resubmit] [--partition P] [--time T] [--cpus-per-task N]\n"
    "                             [--mem M] [--account A] [--max-parallel N] [--sbatch-arg ARG]...\n"
    "                             [--launcher mpirun|srun] [--template FILE] [COMMON]\n"
    "       delayprop-sweep run MANIFEST.json --index I\n"
    "       delayprop-sweep aggregate OUT_DIR [--no-plot] [--plot-script FILE] [--python PY]\n"
    "COMMON: [--set key=value]... (every run, last) [--out-dir D] [--train PATH] [--mpirun CMD]\n"
    "  plan       list the runs, write OUT_DIR/manifest.json\n"
    "  local      run them here, K at a time\n"
    "  slurm      write an sbatch array script (and submit it)\n"
    "  run        run one run of a manifest (what each array task does)\n"
    "  aggregate  CSV and Markdown tables (and figures) of the runs' results\n"
    "Sweep files: docs/SWEEPS.md. -j K is --jobs K.\n",
    {{"set", "key=value", "override a config key in every run, applied last; repeatable", "none"},
     {"out-dir", "D", "the sweep's output directory", "the sweep file's out_dir, else runs/NAME"},
     {"train", "PATH", "the trainer", "the sweep file's train, else delayprop-train next to this program"},
     {"mpirun", "CMD", "the launcher of multi-rank runs (local)", "the sweep file's mpirun, else mpirun"},
     {"jobs", "K", "local: runs at a time", "1"},
     {"submit", "", "slurm: submit the array jobs with sbatch", "off"},
     {"resubmit", "", "slurm: submit again, leaving this sweep's queued or running tasks alone", "off"},
     {"partition", "P", "slurm: #SBATCH --partition", "the sweep file's [slurm], else none"},
     {"time", "T", "slurm: #SBATCH --time", "the sweep file's [slurm], else none"},
     {"cpus-per-task", "N", "slurm: CPUs per task, and threads per rank", "the sweep file's [slurm], else 1"},
     {"mem", "M", "slurm: #SBATCH --mem", "the sweep file's [slurm], else none"},
     {"account", "A", "slurm: #SBATCH --account", "the sweep file's [slurm], else none"},
     {"max-parallel", "N", "slurm: tasks of an array running at once (0: no limit)", "the sweep file's [slurm], else 0"},
     {"sbatch-arg", "ARG", "slurm: a further #SBATCH line; repeatable", "none"},
     {"launcher", "mpirun|srun", "slurm: the launcher of multi-rank runs", "the sweep file's [slurm], else mpirun"},
     {"template", "FILE", "slurm: the sbatch template", "slurm/sweep_array.sbatch"},
     {"index", "I", "run: the run's index in the manifest", kRequired},
     {"no-plot", "", "aggregate: tables only, no figures", "off"},
     {"plot-script", "FILE", "aggregate: the figure script", "tools/plot_sweep.py"},
     {"python", "PY", "aggregate: the Python that runs it", "$DELAYPROP_PYTHON, else /usr/bin/python3"}});

template <class T>
std::optional<T> optional_value(const Args& args, const std::string& name) {
  if (!args.has(name)) return std::nullopt;
  if constexpr (std::is_same_v<T, int>) return int(args.get_int(name, 0));
  else return args.get(name);
}

SweepOverrides overrides(const Args& args) {
  SweepOverrides o;
  o.out_dir = optional_value<std::string>(args, "out-dir");
  o.train = optional_value<std::string>(args, "train");
  o.mpirun = optional_value<std::string>(args, "mpirun");
  o.sets = args.all("set");
  for (const auto& item : o.sets)
    if (item.find('=') == std::string::npos) throw UsageError("--set '" + item + "': expected key=value");
  return o;
}

SlurmOptions slurm_options(const Args& args) {
  SlurmOptions o;
  o.partition = optional_value<std::string>(args, "partition");
  o.time = optional_value<std::string>(args, "time");
  o.mem = optional_value<std::string>(args, "mem");
  o.account = optional_value<std::string>(args, "account");
  o.launcher = optional_value<std::string>(args, "launcher");
  o.template_file = optional_value<std::string>(args, "template");
  o.cpus_per_task = optional_value<int>(args, "cpus-per-task");
  o.max_parallel = optional_value<int>(args, "max-parallel");
  o.sbatch_args = args.all("sbatch-arg");
  o.submit = args.has("submit");
  o.resubmit = args.has("resubmit");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  return run_main("delayprop-sweep", [&] {
    if (argc < 2) {
      std::cout << kCli.help();
      return 2;
    }
    // --help and --version come before a subcommand, or after one.
    const std::string sub = argv[1];
    if (sub == "-h") {
      std::cout << kCli.help();
      return 0;
    }
    // "-j K" is the one short option (make's spelling); turn it into --jobs.
    std::vector<std::string> rest = {"delayprop-sweep"};
    for (int i = sub.rfind("--", 0) == 0 ? 1 : 2; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "-j") a = "--jobs";
      else if (a.rfind("-j", 0) == 0 && a.size() > 2 && a[2] != '-') a = "--jobs=" + a.substr(2);
      rest.push_back(a);
    }
    std::vector<char*> cargv;
    for (auto& a : rest) cargv.push_back(a.data());
    Args args(int(cargv.size()), cargv.data(), kCli, true);
    if (print_help_or_version(args, kCli)) return 0;
    const auto& pos = args.positional();
    if (pos.size() != 1) throw UsageError(sub + " takes exactly one file or directory argument");
    if (sub == "plan") return cmd_plan(load_sweep(pos[0], overrides(args)));
    if (sub == "local") return cmd_local(load_sweep(pos[0], overrides(args)), int(args.get_int("jobs", 1)));
    if (sub == "slurm") return cmd_slurm(load_sweep(pos[0], overrides(args)), slurm_options(args));
    if (sub == "run") {
      args.require_value("index");
      return cmd_run(pos[0], args.get_int("index", -1));
    }
    if (sub == "aggregate") {
      AggregateOptions o;
      o.plot = !args.has("no-plot");
      o.plot_script = optional_value<std::string>(args, "plot-script");
      o.python = optional_value<std::string>(args, "python");
      return cmd_aggregate(fs::absolute(pos[0]).lexically_normal(), o);
    }
    throw UsageError("unknown subcommand '" + sub + "' (plan, local, slurm, run, aggregate)");
  });
}
