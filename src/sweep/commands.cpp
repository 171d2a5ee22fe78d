#include "sweep/commands.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "core/error.hpp"
#include "sweep/slurm.hpp"
#include "sweep/tables.hpp"
#include "sweep/util.hpp"

namespace delayprop::sweep {

using json = nlohmann::json;

namespace {

// Exit status of delayprop-train after a checkpoint on request (SIGTERM/SIGUSR1): resume later.
constexpr int kExitPreempted = 75;

volatile sig_atomic_t g_child = 0;
extern "C" void forward_signal(int sig) {
  (void)sig;  // as SIGUSR1: a launcher (mpirun, srun) passes that on to every rank
  if (g_child > 0) ::kill(pid_t(g_child), SIGUSR1);
}

}  // namespace

int cmd_plan(const Sweep& s) {
  std::vector<Run> runs = prepare(s, "mpirun");
  size_t done = 0, resume = 0;
  std::cout << "sweep " << s.name << ": " << runs.size() << " runs in " << s.out_dir.string() << "\n";
  for (const auto& r : runs) {
    const RunState st = run_state(r.dir);
    done += st == RunState::Done;
    resume += st == RunState::Resume;
    std::cout << std::setw(4) << r.index << "  " << std::setw(6) << std::left << state_name(st) << std::right << "  "
              << r.name;
    if (r.ranks > 1) std::cout << "  [" << r.ranks << " ranks]";
    std::cout << "\n      " << fs::path(r.base).filename().string();
    for (const auto& item : r.sets) std::cout << " " << item;
    std::cout << "\n";
  }
  std::cout << done << " done, " << resume << " to resume, " << runs.size() - done - resume << " to start; manifest "
            << (s.out_dir / "manifest.json").string() << "\n";
  return 0;
}

int cmd_local(const Sweep& s, int jobs) {
  require(jobs >= 1, "-j must be >= 1");
  std::vector<Run> runs = prepare(s, "mpirun");
  std::vector<size_t> todo;
  size_t skipped = 0;
  for (const auto& r : runs) {
    if (run_state(r.dir) == RunState::Done) ++skipped;
    else todo.push_back(r.index);
  }
  std::cout << "sweep " << s.name << ": " << runs.size() << " runs, " << skipped << " already done, " << todo.size()
            << " to run, " << jobs << " at a time\n"
            << std::flush;
  using clock = std::chrono::steady_clock;
  struct Active {
    size_t index;
    clock::time_point start;
    std::unique_ptr<MpiTmpdir> mpi_tmp;
  };
  std::map<pid_t, Active> active;
  size_t next = 0, finished = 0;
  std::vector<std::string> failed;
  while (next < todo.size() || !active.empty()) {
    while (next < todo.size() && active.size() < size_t(jobs)) {
      const Run& r = runs[todo[next++]];
      fs::create_directories(r.dir);
      const RunState st = run_state(r.dir);
      auto mpi_tmp = std::make_unique<MpiTmpdir>(r.ranks);
      const pid_t pid = spawn(launch_command(r, st), r.dir / "train.log", mpi_tmp->env());
      active[pid] = {r.index, clock::now(), std::move(mpi_tmp)};
      std::cout << "start  " << r.name << (st == RunState::Resume ? " (resume)" : "") << "\n" << std::flush;
    }
    int status = 0;
    const pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      fail("waitpid failed: ", std::strerror(errno));
    }
    auto it = active.find(pid);
    if (it == active.end()) continue;
    const Run& r = runs[it->second.index];
    const double secs = std::chrono::duration<double>(clock::now() - it->second.start).count();
    active.erase(it);
    ++finished;
    const int code = exit_code(status);
    const bool ok = code == 0 && run_state(r.dir) == RunState::Done;
    if (!ok) failed.push_back(r.name);
    std::cout << (ok ? "done   " : code == kExitPreempted ? "STOPPED " : "FAILED ") << r.name << "  (" << std::fixed << std::setprecision(1) << secs
              << " s; " << finished << "/" << todo.size() << ")";
    if (!ok) std::cout << "  exit " << code << ", log " << (r.dir / "train.log").string();
    std::cout << "\n" << std::flush;
  }
  std::cout << "sweep " << s.name << ": " << todo.size() - failed.size() << " finished, " << skipped << " skipped, "
            << failed.size() << " failed\n";
  std::cout << "next: delayprop-sweep aggregate " << shell_quote(s.out_dir.string()) << "\n";
  return failed.empty() ? 0 : 1;
}

int cmd_slurm(Sweep s, const SlurmOptions& opt) {
  SlurmSpec& sl = s.slurm;
  if (opt.partition) sl.partition = *opt.partition;
  if (opt.time) sl.time = *opt.time;
  if (opt.mem) sl.mem = *opt.mem;
  if (opt.account) sl.account = *opt.account;
  if (opt.cpus_per_task) sl.cpus_per_task = *opt.cpus_per_task;
  if (opt.max_parallel) sl.max_parallel = *opt.max_parallel;
  if (opt.launcher) sl.launcher = *opt.launcher;
  require(sl.cpus_per_task >= 1, "--cpus-per-task must be >= 1");
  require(sl.launcher == "mpirun" || sl.launcher == "srun", "--launcher must be mpirun or srun");
  for (const auto& a : opt.sbatch_args) sl.extra.push_back(a);

  // Threads per rank default to the CPUs each task gets.
  if (!s.common.threads) s.common.threads = sl.cpus_per_task;
  std::vector<Run> runs = prepare(s, sl.launcher, true);
  // The tasks read their own copy, named by its content: a later `plan` or `local` (which
  // rewrite manifest.json) or an edited sweep file cannot change what queued tasks run.
  const std::string manifest_text = manifest_json(s, runs).dump(2) + "\n";
  fs::create_directories(s.out_dir / "slurm");
  const fs::path manifest = s.out_dir / "slurm" / ("manifest-" + hash8(manifest_text) + ".json");
  write_text(manifest, manifest_text);

  const fs::path tmpl_path = opt.template_file ? fs::path(*opt.template_file) : find_shipped("slurm/sweep_array.sbatch");
  const fs::path script_path = s.out_dir / "sweep.sbatch";
  write_text(script_path,
             sbatch_script(read_text(tmpl_path), s, fs::current_path(), self_exe_dir() / "delayprop-sweep", manifest));

  // --resubmit: the tasks of this sweep still queued or running (squeue) are left alone, so
  // only failed, stopped (exit 75) or lost runs are queued again.
  std::set<size_t> active;
  const bool resubmit = opt.resubmit;
  if (resubmit) {
    const auto [code, text] =
        run_captured({"squeue", "-h", "-r", "--name=" + s.name, "-o", "%K"}, s.out_dir / "slurm" / "squeue.log");
    require(code == 0, "squeue failed (exit ", code, "): ", text);
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
      if (!line.empty() && std::isdigit(static_cast<unsigned char>(line[0]))) active.insert(std::stoul(line));
  }
  // One array job per rank count: all tasks of an array share one resource request.
  std::map<int, std::vector<size_t>> by_ranks;
  size_t done = 0;
  for (const auto& r : runs) {
    if (run_state(r.dir) == RunState::Done) ++done;
    else if (!active.count(r.index)) by_ranks[r.ranks].push_back(r.index);
  }
  if (resubmit)
    std::cout << "resubmit: " << active.size() << " task(s) of " << s.name << " still queued or running, left alone\n";
  const std::vector<std::vector<std::string>> submits = submit_commands(by_ranks, sl.max_parallel, script_path);
  write_text(s.out_dir / "submit.sh", submit_script(s.name, submits));
  fs::permissions(s.out_dir / "submit.sh", fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec,
                  fs::perm_options::add);

  std::cout << "sweep " << s.name << ": " << runs.size() << " runs, " << done << " already done\n";
  std::cout << "wrote " << script_path.string() << " and " << (s.out_dir / "submit.sh").string() << "\n";
  if (submits.empty()) {
    std::cout << "nothing to submit\n";
    return 0;
  }
  if (!opt.submit && !resubmit) {
    for (const auto& c : submits) std::cout << "  " << join_command(c) << "\n";
    std::cout << "(add --submit to submit)\n";
    return 0;
  }
  for (const auto& c : submits) {
    // Run sbatch with its output captured in a file: its stdout is the job id (--parsable).
    const auto [code, text] = run_captured(c, s.out_dir / "slurm" / "sbatch.log");
    require(code == 0, "sbatch failed (exit ", code, "): ", text, "\n  command: ", join_command(c));
    const std::string job = text.substr(0, text.find(';'));  // "id;cluster" on federations
    std::cout << "submitted job " << job << "  (" << c[2] << ")\n";
  }
  return 0;
}

int cmd_run(const fs::path& manifest, long long index) {
  json m = json::parse(read_text(manifest));
  const auto& runs = m.at("runs");
  require(index >= 0 && size_t(index) < runs.size(), manifest.string(), ": no run with index ", index, " (", runs.size(),
          " runs)");
  const json& j = runs[size_t(index)];
  Run r;
  r.name = j.at("name").get<std::string>();
  r.dir = j.at("dir").get<std::string>();
  r.command = j.at("command").get<std::vector<std::string>>();
  r.ranks = j.value("ranks", 1);
  const RunState st = run_state(r.dir);
  if (st == RunState::Done) {
    std::cout << "run " << index << " " << r.name << ": already done, skipped\n";
    return 0;
  }
  fs::create_directories(r.dir);
  const auto cmd = launch_command(r, st);
  std::cout << "run " << index << " " << r.name << (st == RunState::Resume ? " (resume)" : "") << "\n  "
            << join_command(cmd) << "\n"
            << std::flush;
  const MpiTmpdir mpi_tmp(r.ranks);  // array tasks sharing a node launch together
  const pid_t pid = spawn(cmd, {}, mpi_tmp.env());
  // SLURM signals this process (the batch shell exec'd it; --signal=B:USR1@T, scancel
  // --signal, the time limit's SIGTERM): pass it on to the run, which checkpoints and exits 75.
  g_child = pid;
  struct sigaction sa {};
  sa.sa_handler = forward_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGTERM, SIGUSR1, SIGINT}) sigaction(sig, &sa, nullptr);
  const int code = wait_exit(pid);
  std::cout << "run " << index << " " << r.name << ": exit " << code
            << (code == kExitPreempted ? " (stopped with a checkpoint; submit again to resume)" : "") << "\n";
  return code;
}

int cmd_aggregate(const fs::path& dir, const AggregateOptions& opt) {
  const fs::path manifest = dir / "manifest.json";
  require(fs::exists(manifest), manifest.string(), ": not found (aggregate takes a sweep's out_dir)");
  const json m = json::parse(read_text(manifest));

  const Tables t = make_tables(read_results(m, dir.filename().string()));
  write_text(dir / "results.csv", t.results_csv);
  write_text(dir / "points.csv", t.points_csv);
  write_text(dir / "results.md", t.markdown);
  std::cout << t.markdown << "\nwrote " << (dir / "results.csv").string() << ", " << (dir / "points.csv").string() << ", "
            << (dir / "results.md").string() << "\n";

  if (!opt.plot) return 0;
  fs::path script;
  try {
    script = opt.plot_script ? fs::path(*opt.plot_script) : find_shipped("tools/plot_sweep.py");
  } catch (const Error& e) {
    std::cout << "plot skipped: " << e.what() << "\n";
    return 0;
  }
  std::string python = fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  if (const char* env = std::getenv("DELAYPROP_PYTHON")) python = env;
  if (opt.python) python = *opt.python;
  const int code =
      wait_exit(spawn({python, script.string(), (dir / "points.csv").string(), "--out", (dir / "figures").string()}, {}));
  if (code != 0) std::cout << "plot step failed (exit " << code << "); tables are written\n";
  return 0;
}

}  // namespace delayprop::sweep
