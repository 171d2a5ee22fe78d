#include "sweep/slurm.hpp"

#include <sstream>

#include "sweep/util.hpp"

namespace delayprop::sweep {

std::string sbatch_directives(const Sweep& s, const fs::path& cwd) {
  const SlurmSpec& sl = s.slurm;
  std::ostringstream sb;
  sb << "#SBATCH --job-name=" << s.name << "\n";
  sb << "#SBATCH --output=" << (s.out_dir / "slurm" / "%A_%a.out").string() << "\n";
  sb << "#SBATCH --ntasks=1\n";
  sb << "#SBATCH --cpus-per-task=" << sl.cpus_per_task << "\n";
  // Relative paths (configs, data, runs) mean what they meant here.
  sb << "#SBATCH --chdir=" << cwd.string() << "\n";
  // 120 s before the time limit the batch shell (delayprop-sweep run) gets SIGUSR1 and passes
  // it on: the run checkpoints and exits 75. Requeued after preemption or a node failure.
  sb << "#SBATCH --signal=B:USR1@120\n";
  sb << "#SBATCH --requeue\n";
  if (!sl.partition.empty()) sb << "#SBATCH --partition=" << sl.partition << "\n";
  if (!sl.time.empty()) sb << "#SBATCH --time=" << sl.time << "\n";
  if (!sl.mem.empty()) sb << "#SBATCH --mem=" << sl.mem << "\n";
  if (!sl.account.empty()) sb << "#SBATCH --account=" << sl.account << "\n";
  for (const auto& e : sl.extra) sb << (e.rfind("#SBATCH", 0) == 0 ? e : "#SBATCH " + e) << "\n";
  return sb.str();
}

std::string sbatch_script(const std::string& tmpl, const Sweep& s, const fs::path& cwd, const fs::path& sweep_bin,
                          const fs::path& manifest) {
  std::string setup;
  for (const auto& l : s.slurm.setup) setup += l + "\n";
  std::string script = replace_all(tmpl, "@SBATCH@", sbatch_directives(s, cwd));
  script = replace_all(script, "@SETUP@", setup);
  script = replace_all(script, "@SWEEP_BIN@", shell_quote(sweep_bin.string()));
  script = replace_all(script, "@MANIFEST@", shell_quote(manifest.string()));
  return replace_all(script, "@SWEEP_NAME@", s.name);
}

std::vector<std::vector<std::string>> submit_commands(const std::map<int, std::vector<size_t>>& by_ranks,
                                                      int max_parallel, const fs::path& script) {
  std::vector<std::vector<std::string>> submits;
  for (const auto& [ranks, idx] : by_ranks) {
    std::string array = "--array=" + index_ranges(idx);
    if (max_parallel > 0) array += "%" + std::to_string(max_parallel);
    std::vector<std::string> cmd = {"sbatch", "--parsable", array};
    if (ranks > 1) cmd.push_back("--ntasks=" + std::to_string(ranks));
    cmd.push_back(script.string());
    submits.push_back(cmd);
  }
  return submits;
}

std::string submit_script(const std::string& sweep_name, const std::vector<std::vector<std::string>>& commands) {
  std::string sh = "#!/bin/sh\n# Submits the runs of sweep " + sweep_name + " that are not done yet.\nset -e\n";
  for (const auto& c : commands) sh += join_command(c) + "\n";
  return sh;
}

}  // namespace delayprop::sweep
