// Dry run: one process stands for rank R of N, as if every rank held the same data
// (Arbor's dry_run_context). Sums are the local value times N; broadcast, barrier and max
// change nothing; any(flag) is flag.
#include <cstdlib>
#include <string>

#include "core/error.hpp"
#include "dist/comm.hpp"

namespace delayprop::dist {
namespace {

class DryRun final : public Communicator {
 public:
  DryRun(int size, int rank) : size_(size), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override {
    return "dryrun:" + std::to_string(size_) + ":" + std::to_string(rank_);
  }
  void barrier() override {}
  void broadcast(std::span<std::byte>, int root) override { check_root(root); }
  void allreduce_sum(std::span<double> d) override { scale(d); }
  void allreduce_sum(std::span<float> d) override { scale(d); }
  void allreduce_sum(std::span<uint64_t> d) override { scale(d); }
  void allreduce_sum(std::span<uint32_t> d) override { scale(d); }
  void allreduce_max(std::span<double>) override {}
  bool any(bool flag) override { return flag; }
  [[noreturn]] void abort(int code) override { std::_Exit(code); }

 private:
  template <typename T>
  void scale(std::span<T> d) {
    for (T& x : d) x = T(x * T(size_));
  }
  void check_root(int root) const {
    require(root >= 0 && root < size_, "broadcast: root ", root, " out of range for ", name());
  }
  int size_;
  int rank_;
};

}  // namespace

std::unique_ptr<Communicator> make_dryrun_communicator(int size, int rank) {
  require(size >= 1, "dry-run communicator: size must be >= 1, got ", size);
  require(rank >= 0 && rank < size, "dry-run communicator: rank ", rank, " out of range [0, ",
          size, ")");
  return std::make_unique<DryRun>(size, rank);
}

}  // namespace delayprop::dist
