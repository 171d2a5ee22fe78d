#pragma once
// The SLURM array job of a sweep: the sbatch script (a template with the #SBATCH lines, the
// setup lines and the paths filled in) and the sbatch commands that submit it.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "sweep/sweep.hpp"

namespace delayprop::sweep {

// The #SBATCH lines of the array job; cwd is the directory relative paths mean.
std::string sbatch_directives(const Sweep& s, const fs::path& cwd);

// The template with @SBATCH@, @SETUP@, @SWEEP_BIN@, @MANIFEST@ and @SWEEP_NAME@ filled in.
std::string sbatch_script(const std::string& tmpl, const Sweep& s, const fs::path& cwd, const fs::path& sweep_bin,
                          const fs::path& manifest);

// One array job per rank count (all tasks of an array share one resource request):
// sbatch --parsable --array=RANGES[%max_parallel] [--ntasks=R] SCRIPT.
std::vector<std::vector<std::string>> submit_commands(const std::map<int, std::vector<size_t>>& by_ranks,
                                                      int max_parallel, const fs::path& script);

// submit.sh: the commands as a shell script.
std::string submit_script(const std::string& sweep_name, const std::vector<std::vector<std::string>>& commands);

}  // namespace delayprop::sweep
