#include "sweep/util.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "core/error.hpp"

namespace delayprop::sweep {

std::string read_text(const fs::path& p) {
  std::ifstream f(p);
  require(f.good(), p.string(), ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_text(const fs::path& p, const std::string& text) {
  const fs::path tmp = p.string() + ".tmp";
  {
    std::ofstream f(tmp);
    require(f.good(), tmp.string(), ": cannot write");
    f << text;
    require(f.good(), tmp.string(), ": write failed");
  }
  fs::rename(tmp, p);
}

std::vector<std::string> split_words(const std::string& s) {
  std::istringstream is(s);
  std::vector<std::string> out;
  for (std::string w; is >> w;) out.push_back(w);
  return out;
}

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,+@%") ==
                        std::string::npos)
    return s;
  std::string out = "'";
  for (char c : s) out += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string join_command(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) {
    if (!s.empty()) s += ' ';
    s += shell_quote(a);
  }
  return s;
}

std::string sanitize(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_') ? c : '-';
  return out;
}

uint32_t fnv1a(const std::string& s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) h = (h ^ c) * 16777619u;
  return h;
}

std::string hash8(const std::string& s) {
  std::ostringstream h;
  h << std::hex << std::setw(8) << std::setfill('0') << fnv1a(s);
  return h.str();
}

std::string short_key(const std::string& key) {
  std::vector<std::string> parts;
  std::stringstream ss(key);
  for (std::string p; std::getline(ss, p, '.');) parts.push_back(p);
  if (parts.size() > 1 && parts[0] == "network") parts.erase(parts.begin());
  std::string out;
  for (const auto& p : parts) {
    const bool digits = !p.empty() && std::all_of(p.begin(), p.end(), ::isdigit);
    if (p == "population") out += (out.empty() ? "" : ".") + std::string("pop");
    else if (p == "connection") out += (out.empty() ? "" : ".") + std::string("conn");
    else if (digits) out += p;  // glued to pop/conn
    else out += (out.empty() ? "" : ".") + p;
  }
  return out;
}

fs::path self_exe_dir() {
  std::error_code ec;
  fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::current_path() : p.parent_path();
}

fs::path find_shipped(const std::string& rel) {
  std::vector<fs::path> roots;
  if (const char* home = std::getenv("DELAYPROP_HOME")) roots.emplace_back(home);
  roots.push_back(self_exe_dir().parent_path());
  roots.push_back(self_exe_dir().parent_path() / "share" / "delayprop");  // installed
  roots.push_back(fs::path(__FILE__).parent_path().parent_path().parent_path());  // src/sweep/ -> the source tree
  roots.push_back(fs::current_path());
  for (const auto& r : roots)
    if (fs::exists(r / rel)) return fs::absolute(r / rel);
  std::string tried;
  for (const auto& r : roots) {
    tried += ' ';
    tried += (r / rel).string();
  }
  fail("cannot find ", rel, " (tried:", tried, "); set DELAYPROP_HOME to the delayprop source directory");
}

pid_t spawn(const std::vector<std::string>& argv, const fs::path& log, const EnvVars& env) {
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  std::cout.flush();  // else the child's output overtakes ours, and the child inherits the buffer
  std::cerr.flush();
  const pid_t pid = fork();
  require(pid >= 0, "fork failed");
  if (pid == 0) {
    if (!log.empty()) {
      const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
      }
    }
    for (const auto& [name, value] : env) setenv(name.c_str(), value.c_str(), 1);
    execvp(cargv[0], cargv.data());
    std::fprintf(stderr, "delayprop-sweep: cannot run %s: %s\n", cargv[0], std::strerror(errno));
    _exit(127);
  }
  return pid;
}

MpiTmpdir::MpiTmpdir(int ranks) {
  if (ranks <= 1) return;
  // Open MPI 4 reads the first, Open MPI 5 (PRRTE) the second.
  fs::path base = fs::temp_directory_path();
  for (const char* name : {"OMPI_MCA_orte_tmpdir_base", "PRTE_MCA_prte_tmpdir_base"})
    if (const char* v = std::getenv(name); v && *v) base = v;
  // Short: the directory holds Unix sockets, whose paths must stay under 108 bytes.
  std::error_code ec;
  fs::create_directories(base, ec);
  std::string tmpl = (base / "delayprop-mpi.XXXXXX").string();
  require(mkdtemp(tmpl.data()) != nullptr, tmpl, ": cannot create a directory: ", std::strerror(errno));
  dir_ = tmpl;
}

MpiTmpdir::~MpiTmpdir() {
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

EnvVars MpiTmpdir::env() const {
  if (dir_.empty()) return {};
  return {{"OMPI_MCA_orte_tmpdir_base", dir_.string()}, {"PRTE_MCA_prte_tmpdir_base", dir_.string()}};
}

int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

int wait_exit(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return exit_code(status);
}

std::pair<int, std::string> run_captured(const std::vector<std::string>& argv, const fs::path& log) {
  std::error_code ec;
  fs::remove(log, ec);
  const int code = wait_exit(spawn(argv, log));
  std::string text = fs::exists(log) ? read_text(log) : "";
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return {code, text};
}

std::string index_ranges(const std::vector<size_t>& idx) {
  std::string out;
  for (size_t i = 0; i < idx.size();) {
    size_t j = i;
    while (j + 1 < idx.size() && idx[j + 1] == idx[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(idx[i]);
    if (j > i) {
      out += '-';
      out += std::to_string(idx[j]);
    }
    i = j + 1;
  }
  return out;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size()) s.replace(p, from.size(), to);
  return s;
}

}  // namespace delayprop::sweep
