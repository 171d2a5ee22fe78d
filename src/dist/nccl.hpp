#pragma once
// NCCL communicator (needs the CUDA backend and MPI; NCCL itself is loaded at run time,
// dist/nccl_lib.hpp): sums run on the GPU with NCCL, the small host-side collectives and the
// ncclUniqueId broadcast go over MPI. One GPU per rank: the GPU of the node-local rank
// (dist/launcher.hpp), or an explicit device. docs/GPU.md, "NCCL communicator".
#ifdef DELAYPROP_HAVE_NCCL
#include <mpi.h>

#include <cstddef>
#include <memory>

#include "dist/comm.hpp"
#include "dist/nccl_lib.hpp"

namespace delayprop::dist {

class NcclCommunicator final : public Communicator {
 public:
  // Collective over comm: every rank of comm must construct it. The MPI communicator is
  // duplicated and kept (MPI must stay initialised for the object's lifetime). device: the
  // GPU of this rank, -1 = the GPU of the node-local rank. Fails on every rank (with the
  // failing rank's reason on that rank) when a rank cannot load NCCL, sees no GPU, or shares
  // its GPU with another rank (NCCL refuses that).
  explicit NcclCommunicator(MPI_Comm comm, int device = -1);
  ~NcclCommunicator() override;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return "nccl"; }
  int device() const { return device_; }
  void barrier() override;
  void broadcast(std::span<std::byte> data, int root) override;
  // Host spans: staged through pinned memory and one device buffer, summed by NCCL (one call
  // per span, so a flat gradient buffer is one all-reduce).
  void allreduce_sum(std::span<double> data) override;
  void allreduce_sum(std::span<float> data) override;
  void allreduce_sum(std::span<uint64_t> data) override;
  void allreduce_sum(std::span<uint32_t> data) override;
  bool any(bool flag) override;
  [[noreturn]] void abort(int code) override;

  // In-place sums of n values that live on this rank's device (device()); returns when done.
  void allreduce_sum_device(float* data, size_t n) override;
  void allreduce_sum_device(double* data, size_t n);
  void allreduce_sum_device(uint64_t* data, size_t n, void* stream) override;
  bool supports_device_buffers() const override { return true; }

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1, device_ = 0;
  std::unique_ptr<NcclGroup> group_;
};

// Convenience: an NcclCommunicator over comm (MPI_COMM_WORLD for a whole job).
std::unique_ptr<Communicator> make_nccl_communicator(MPI_Comm comm, int device = -1);

}  // namespace delayprop::dist
#endif  // DELAYPROP_HAVE_NCCL
