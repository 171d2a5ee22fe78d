#pragma once
// Small helpers of the sweep layer: text files, shell words and quoting, names, and child
// processes (fork/exec/waitpid).
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace delayprop::sweep {

namespace fs = std::filesystem;

std::string read_text(const fs::path& p);
// Writes via a temporary file and rename, so a reader never sees half a file.
void write_text(const fs::path& p, const std::string& text);

std::vector<std::string> split_words(const std::string& s);
// Quotes a word for sh when it holds anything but [A-Za-z0-9_-./=:,+@%].
std::string shell_quote(const std::string& s);
std::string join_command(const std::vector<std::string>& argv);
std::string replace_all(std::string s, const std::string& from, const std::string& to);

// Directory names: letters, digits, '.', '-', '_' only.
std::string sanitize(const std::string& s);
uint32_t fnv1a(const std::string& s);
// fnv1a as 8 hex digits: names that change with the content.
std::string hash8(const std::string& s);
// "network.population.1.size" -> "pop1.size": short, still readable in directory names.
std::string short_key(const std::string& key);
// Sorted indices as SLURM array ranges: "0-2,5,7-9".
std::string index_ranges(const std::vector<size_t>& idx);

fs::path self_exe_dir();
// Shipped files (slurm templates, plot script): under $DELAYPROP_HOME, next to the build
// tree, in the installed share/delayprop, in the source tree, or under the current directory.
fs::path find_shipped(const std::string& rel);

using EnvVars = std::vector<std::pair<std::string, std::string>>;

// Starts argv with `env` added to the environment; stdout and stderr go to `log` (appended)
// unless it is empty.
pid_t spawn(const std::vector<std::string>& argv, const fs::path& log, const EnvVars& env = {});

// Open MPI creates its session directory (<tmp>/ompi.<host>.<uid>) when a launch starts and
// removes it when the last one ends; two launches starting together race on that mkdir and
// one fails ("File exists"). A multi-rank training run gets its own base directory for it,
// made under the user's base if set (else the temporary directory) and removed when the
// object goes; a single-rank run starts no MPI and gets none.
class MpiTmpdir {
 public:
  explicit MpiTmpdir(int ranks);
  ~MpiTmpdir();
  MpiTmpdir(const MpiTmpdir&) = delete;
  MpiTmpdir& operator=(const MpiTmpdir&) = delete;
  // The variables to set for the launch (none for a single rank).
  EnvVars env() const;

 private:
  fs::path dir_;
};
// The exit code of a waitpid status (128 + signal for a killed process).
int exit_code(int status);
// Waits for pid (retrying on EINTR) and returns its exit code.
int wait_exit(pid_t pid);
// Runs argv with its output in `log` (removed first); returns (exit code, the output with
// trailing newlines removed).
std::pair<int, std::string> run_captured(const std::vector<std::string>& argv, const fs::path& log);

}  // namespace delayprop::sweep
