#pragma once
// Shared helpers of the gradient tests: loss/gradient evaluation through the public engine
// interface, cosine similarity, random input batches.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <span>
#include <string>
#include <vector>

#include "io/config.hpp"
#include "core/engine.hpp"
#include "core/error.hpp"
#include "core/loss.hpp"
#include "core/network.hpp"
#include "core/spikes.hpp"
#include "kernels/factory.hpp"
#include "test_networks.hpp"

namespace delayprop::testutil {

inline double dot(std::span<const double> a, std::span<const double> b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Cosine similarity; 1 when both vectors are zero (nothing to compare), 0 when only one is.
inline double cosine(std::span<const double> a, std::span<const double> b) {
  const double na = std::sqrt(dot(a, a)), nb = std::sqrt(dot(b, b));
  if (na == 0 && nb == 0) return 1.0;
  if (na == 0 || nb == 0) return 0.0;
  return dot(a, b) / (na * nb);
}

// A batch plus labels, the loss, and an engine bound to one network.
struct Problem {
  Network net;
  LossSpec loss;
  SpikeBatch batch;
  std::vector<int32_t> labels;
  EngineOptions opt;

  Problem() { opt.precision = Precision::Float64; }

  // Loss of the batch (already divided by B).
  double loss_at(Engine& e, std::span<const double> params, ForwardOutputs* fwd_out = nullptr) const {
    ForwardOutputs fwd;
    e.forward(params, batch, fwd);
    BackwardInputs bin;
    const double l = compute_loss(loss, fwd, labels, batch.n_samples, bin).loss;
    if (fwd_out) *fwd_out = fwd;
    return l;
  }

  // EventProp gradient of the batch loss.
  std::vector<double> grad_at(Engine& e, std::span<const double> params, ForwardOutputs* fwd_out = nullptr) const {
    ForwardOutputs fwd;
    e.forward(params, batch, fwd);
    BackwardInputs bin;
    compute_loss(loss, fwd, labels, batch.n_samples, bin);
    std::vector<double> g(net.n_params);
    e.backward(params, bin, g);
    if (fwd_out) *fwd_out = fwd;
    return g;
  }
};

// Random input: every channel of every sample fires `per_channel` spikes uniformly in
// [t_lo, t_hi) ms; labels uniform in [0, n_classes).
inline void random_batch(Problem& pb, uint32_t n_samples, uint32_t per_channel, double t_lo, double t_hi,
                         uint32_t n_classes, uint64_t seed) {
  std::mt19937_64 g(seed);
  std::uniform_real_distribution<double> ut(t_lo, t_hi);
  pb.batch.clear();
  pb.labels.clear();
  for (uint32_t b = 0; b < n_samples; ++b) {
    std::vector<double> t;
    std::vector<uint32_t> c;
    for (uint32_t ch = 0; ch < pb.net.n_input_channels; ++ch)
      for (uint32_t k = 0; k < per_channel; ++k) {
        t.push_back(ut(g));
        c.push_back(ch);
      }
    pb.batch.add_sample(t, c, pb.net.dt);
    pb.labels.push_back(int32_t(b % n_classes));
  }
}

// ---- Driver runs ---------------------------------------------------------------------

struct ProcessResult {
  bool exited = false;  // false: killed by a signal (a crash)
  int code = -1;        // exit status, or the signal number when !exited
  std::string out, err;
};

inline std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Runs a program (no shell) with stdout/stderr captured in files under dir.
inline ProcessResult run_process(const std::vector<std::string>& argv, const std::string& dir) {
  const std::string out_path = dir + "/stdout.txt", err_path = dir + "/stderr.txt";
  const pid_t pid = fork();
  if (pid == 0) {
    const int o = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (o < 0 || e < 0) _exit(126);
    dup2(o, 1);
    dup2(e, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  ProcessResult r;
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return r;
  r.exited = WIFEXITED(status);
  r.code = r.exited ? WEXITSTATUS(status) : (WIFSIGNALED(status) ? WTERMSIG(status) : -1);
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  return r;
}

// A fresh directory under the system temp dir, removed with the object.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "delayprop-test-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  void write(const std::string& name, const std::string& text) const { std::ofstream(file(name)) << text; }

 private:
  std::string path_;
};

}  // namespace delayprop::testutil
