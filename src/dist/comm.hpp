#pragma once
// The communicator: rank, size, barrier, broadcast and all-reduce over typed spans.
// Implementations: local (one rank), MPI, dry-run (pretend N ranks in one process), NCCL
// (device buffers, with the CUDA backend).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace delayprop::dist {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  virtual std::string name() const = 0;
  virtual void barrier() = 0;
  virtual void broadcast(std::span<std::byte> data, int root) = 0;
  // Element-wise sums over ranks, in place; every rank gets the result.
  virtual void allreduce_sum(std::span<double> data) = 0;
  virtual void allreduce_sum(std::span<float> data) = 0;
  virtual void allreduce_sum(std::span<uint64_t> data) = 0;
  virtual void allreduce_sum(std::span<uint32_t> data) = 0;
  // Collective "did any rank fail?": true on every rank if any rank passed true.
  virtual bool any(bool flag) = 0;
  // Ends every rank of the job now (a rank that failed and cannot reach the others).
  [[noreturn]] virtual void abort(int code) = 0;

  template <typename T>
  void broadcast_value(T& v, int root) {
    broadcast(std::as_writable_bytes(std::span<T>(&v, 1)), root);
  }
};

std::unique_ptr<Communicator> make_local_communicator();

}  // namespace delayprop::dist
