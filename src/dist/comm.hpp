#pragma once
// The communicator: rank, size, barrier, broadcast and all-reduce over typed spans.
// Implementations: local (one rank), MPI, dry-run (pretend N ranks in one process), NCCL
// (device buffers, with the CUDA backend). Design notes: docs/DISTRIBUTED.md.
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
  // Signed 64-bit sums (the digits of exact sums, core/exact_sum.hpp): summed as unsigned
  // two's complement integers, which gives the same bits.
  void allreduce_sum(std::span<int64_t> data) {
    allreduce_sum(std::span<uint64_t>(reinterpret_cast<uint64_t*>(data.data()), data.size()));
  }
  // Element-wise maxima over ranks, in place (wall times, peak memory). The default does
  // one broadcast per rank (correct for any implementation); MPI and dry-run override it.
  virtual void allreduce_max(std::span<double> data);
  // Collective "did any rank fail?": true on every rank if any rank passed true.
  virtual bool any(bool flag) = 0;
  // Ends every rank of the job now (a rank that failed and cannot reach the others).
  [[noreturn]] virtual void abort(int code) = 0;

  // Sum over ranks of n floats in device memory (dev_ptr is a CUDA device pointer), in
  // place. Only the NCCL communicator implements it; the others throw "not supported", so
  // callers keep a host fallback: copy to the host, allreduce_sum, copy back.
  virtual void allreduce_sum_device(float* dev_ptr, size_t n);
  virtual bool supports_device_buffers() const { return false; }
  // The same for n 64-bit integers (exact-sum digits), enqueued on `stream` (a
  // cudaStream_t; in order with the caller's work on it) and returned when done.
  virtual void allreduce_sum_device(uint64_t* dev_ptr, size_t n, void* stream);

  template <typename T>
  void broadcast_value(T& v, int root) {
    broadcast(std::as_writable_bytes(std::span<T>(&v, 1)), root);
  }
  template <typename T>
  T sum_value(T v) {
    allreduce_sum(std::span<T>(&v, 1));
    return v;
  }
  double max_value(double v) {
    allreduce_max(std::span<double>(&v, 1));
    return v;
  }
};

std::unique_ptr<Communicator> make_local_communicator();
// size ranks in one process, this process being rank `rank`: collectives behave as if every
// rank held the same data (a sum is the local value times size). For scale planning and
// for tests of code that shards work by rank.
std::unique_ptr<Communicator> make_dryrun_communicator(int size, int rank);
// Over MPI_COMM_WORLD (duplicated); MPI must be initialised (see MpiSession in
// dist/mpi.hpp). max_chunk bounds the elements per MPI call (counts are int); tests pass a
// small value to exercise the chunking. Throws when built without MPI.
std::unique_ptr<Communicator> make_mpi_communicator(size_t max_chunk = 0);

// NCCL over MPI_COMM_WORLD (the NCCL id is broadcast over MPI), one GPU per rank: device, or
// the GPU of the node-local rank when device = -1. Defined in nccl.cpp, only when
// DELAYPROP_HAVE_NCCL (CUDA backend and MPI; NCCL itself is loaded at run time).
std::unique_ptr<Communicator> make_nccl_world_communicator(int device = -1);

struct CommOptions {
  bool gpu = false;  // the engine runs on the GPU: "auto" may then choose NCCL
  int device = -1;   // engine.device: the GPU of this rank for NCCL (-1 = node-local rank's)
};

// kind: "auto" (under mpirun/srun: NCCL when options.gpu, the job has more than one rank,
// NCCL loads on every rank and every rank has a GPU of its own; MPI otherwise; without a
// launcher: local), "local", "mpi", "dryrun:N:R" (N pretend ranks, this process is rank R),
// "nccl" (fails with the reason when NCCL cannot be used).
std::unique_ptr<Communicator> make_communicator(const std::string& kind, const CommOptions& options = {});

// Collective: true on every rank iff every rank passed the same bytes (compares a 64-bit
// hash of the bytes with rank 0's). For "are the parameters still in sync?" checks.
bool same_on_all_ranks(Communicator& comm, std::span<const std::byte> data);
uint64_t checksum(std::span<const std::byte> data);

}  // namespace delayprop::dist
