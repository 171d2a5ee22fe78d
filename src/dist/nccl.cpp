// NCCL communicator: see dist/nccl.hpp. Compiled only with DELAYPROP_HAVE_NCCL (the CUDA
// backend and MPI found by CMake); NCCL is loaded at run time (dist/nccl_lib.cpp).
#ifdef DELAYPROP_HAVE_NCCL
#include "dist/nccl.hpp"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "core/error.hpp"
#include "dist/launcher.hpp"
#include "dist/watchdog.hpp"
#include "kernels/cuda/cuda_engine.hpp"

namespace delayprop::dist {
namespace {

void check_mpi(int r, const char* what, int rank) {
  if (r != MPI_SUCCESS) fail("rank ", rank, ": MPI error in ", what, " (code ", r, ")");
}

}  // namespace

NcclCommunicator::NcclCommunicator(MPI_Comm comm, int device) {
  int initialised = 0;
  MPI_Initialized(&initialised);
  require(initialised, "NCCL communicator: MPI is not initialised");
  check_mpi(MPI_Comm_dup(comm, &comm_), "MPI_Comm_dup", -1);
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
  const NodeRank where = node_rank();  // collective the first time (every rank is here)
  // Every rank must learn whether any rank cannot take part, or the others would hang in
  // the NCCL initialisation; the failing rank reports its own reason.
  std::string why;
  try {
    std::string load_error;
    require(nccl_load(&load_error), "rank ", rank_, ": ", load_error);
    const CudaProbe probe = cuda_probe();
    require(probe.count > 0, "no CUDA device visible to rank ", rank_,
            probe.error.empty() ? std::string() : " (" + probe.error + ")");
    device_ = gpu_for_rank(device, where, probe.count);
    require(device_ < probe.count, "rank ", rank_, ": device ", device_, " requested, but only ", probe.count,
            " CUDA device(s) visible");
    // Two ranks on one GPU: NCCL refuses them (and they would share the GPU anyway).
    require(device >= 0 || where.local_size <= probe.count, "rank ", rank_, ": ", where.local_size,
            " ranks on this node share ", probe.count,
            " GPU(s); the NCCL communicator needs one GPU per rank (start at most ", probe.count,
            " ranks per node, or use --comm mpi)");
  } catch (const Error& e) {
    why = e.what();
  }
  const bool bad = any(!why.empty());
  if (!why.empty()) {
    MPI_Comm_free(&comm_);
    fail(why);
  }
  if (bad) {
    MPI_Comm_free(&comm_);
    fail("NCCL communicator: another rank cannot take part (rank ", rank_, " has device ", device_, ")");
  }
  NcclUniqueId id{};
  if (rank_ == 0) id = nccl_unique_id();
  check_mpi(MPI_Bcast(&id, int(sizeof(id)), MPI_BYTE, 0, comm_), "MPI_Bcast(ncclUniqueId)", rank_);
  group_ = std::make_unique<NcclGroup>(id, rank_, size_, device_, collective_timeout_s());
}

NcclCommunicator::~NcclCommunicator() {
  group_.reset();
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

void NcclCommunicator::barrier() { check_mpi(MPI_Barrier(comm_), "MPI_Barrier", rank_); }

void NcclCommunicator::broadcast(std::span<std::byte> data, int root) {
  for (size_t off = 0; off < data.size(); off += size_t(INT_MAX)) {
    const int n = int(std::min<size_t>(data.size() - off, size_t(INT_MAX)));
    check_mpi(MPI_Bcast(data.data() + off, n, MPI_BYTE, root, comm_), "MPI_Bcast", rank_);
  }
}

bool NcclCommunicator::any(bool flag) {
  int in = flag ? 1 : 0, out = 0;
  check_mpi(MPI_Allreduce(&in, &out, 1, MPI_INT, MPI_LOR, comm_), "MPI_Allreduce(any)", rank_);
  return out != 0;
}

void NcclCommunicator::abort(int code) {
  std::fflush(nullptr);
  MPI_Abort(comm_ == MPI_COMM_NULL ? MPI_COMM_WORLD : comm_, code);
  std::_Exit(code);
}

void NcclCommunicator::allreduce_sum(std::span<double> d) { group_->allreduce_host(d.data(), d.size(), NcclType::f64); }
void NcclCommunicator::allreduce_sum(std::span<float> d) { group_->allreduce_host(d.data(), d.size(), NcclType::f32); }
void NcclCommunicator::allreduce_sum(std::span<uint64_t> d) { group_->allreduce_host(d.data(), d.size(), NcclType::u64); }
void NcclCommunicator::allreduce_sum(std::span<uint32_t> d) { group_->allreduce_host(d.data(), d.size(), NcclType::u32); }
void NcclCommunicator::allreduce_sum_device(float* d, size_t n) { group_->allreduce_device(d, n, NcclType::f32); }
void NcclCommunicator::allreduce_sum_device(double* d, size_t n) { group_->allreduce_device(d, n, NcclType::f64); }
void NcclCommunicator::allreduce_sum_device(uint64_t* d, size_t n, void* stream) {
  group_->allreduce_device(d, n, NcclType::u64, stream);
}

std::unique_ptr<Communicator> make_nccl_communicator(MPI_Comm comm, int device) {
  return std::make_unique<NcclCommunicator>(comm, device);
}

std::unique_ptr<Communicator> make_nccl_world_communicator(int device) {
  return make_nccl_communicator(MPI_COMM_WORLD, device);
}

}  // namespace delayprop::dist
#endif  // DELAYPROP_HAVE_NCCL
