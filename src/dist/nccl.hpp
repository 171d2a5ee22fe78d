#pragma once
// NCCL communicator (needs the CUDA backend and MPI): sums run on device buffers with NCCL,
// the small host-side collectives and the ncclUniqueId broadcast go over MPI. One GPU per
// rank, chosen by the node-local rank; a rank without a GPU fails with
// "no CUDA device visible to rank R".
#ifdef DELAYPROP_HAVE_NCCL
#include <mpi.h>

#include <cstddef>
#include <memory>

#include "dist/comm.hpp"

struct ncclComm;     // ncclComm_t without including nccl.h here
struct CUstream_st;  // cudaStream_t

namespace delayprop::dist {

class NcclCommunicator final : public Communicator {
 public:
  // Collective over comm: every rank of comm must construct it. The MPI communicator is
  // duplicated and kept (MPI must stay initialised for the object's lifetime).
  explicit NcclCommunicator(MPI_Comm comm);
  ~NcclCommunicator() override;
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return "nccl"; }
  int device() const { return device_; }
  void barrier() override;
  void broadcast(std::span<std::byte> data, int root) override;
  // Host spans: staged through one device buffer, summed by NCCL (one call per span, so a
  // flat gradient buffer is one all-reduce).
  void allreduce_sum(std::span<double> data) override;
  void allreduce_sum(std::span<float> data) override;
  void allreduce_sum(std::span<uint64_t> data) override;
  void allreduce_sum(std::span<uint32_t> data) override;
  bool any(bool flag) override;
  [[noreturn]] void abort(int code) override;

  // In-place sums of n values that live on this rank's device (device()); returns when done.
  void allreduce_sum_device(float* data, size_t n) override;
  void allreduce_sum_device(double* data, size_t n);
  bool supports_device_buffers() const override { return true; }

 private:
  void allreduce_raw(void* device_data, size_t n, int nccl_type);
  void* staging(size_t bytes);
  template <typename T>
  void allreduce_host(std::span<T> data, int nccl_type);

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, size_ = 1, device_ = 0;
  ncclComm* nccl_ = nullptr;
  CUstream_st* stream_ = nullptr;
  void* staging_ = nullptr;
  size_t staging_bytes_ = 0;
};

// Convenience: an NcclCommunicator over comm (MPI_COMM_WORLD for a whole job).
std::unique_ptr<Communicator> make_nccl_communicator(MPI_Comm comm);

}  // namespace delayprop::dist
#endif  // DELAYPROP_HAVE_NCCL
