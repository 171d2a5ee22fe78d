// NCCL communicator: see dist/nccl.hpp. Compiled only with DELAYPROP_HAVE_NCCL (CUDA, NCCL
// and MPI found by CMake).
#ifdef DELAYPROP_HAVE_NCCL
#include "dist/nccl.hpp"

#include <cuda_runtime.h>
#include <nccl.h>

#include <algorithm>
#include <climits>
#include <cstdlib>

#include "core/error.hpp"
#include "dist/launcher.hpp"
#include "kernels/cuda/cuda_engine.hpp"

namespace delayprop::dist {
namespace {

void check_cuda(cudaError_t e, const char* what, int rank) {
  if (e != cudaSuccess) fail("rank ", rank, ": CUDA error in ", what, ": ", cudaGetErrorString(e));
}
void check_nccl(ncclResult_t r, const char* what, int rank) {
  if (r != ncclSuccess) fail("rank ", rank, ": NCCL error in ", what, ": ", ncclGetErrorString(r));
}
void check_mpi(int r, const char* what, int rank) {
  if (r != MPI_SUCCESS) fail("rank ", rank, ": MPI error in ", what, " (code ", r, ")");
}

}  // namespace

NcclCommunicator::NcclCommunicator(MPI_Comm comm) {
  int initialised = 0;
  MPI_Initialized(&initialised);
  require(initialised, "NCCL communicator: MPI is not initialised");
  check_mpi(MPI_Comm_dup(comm, &comm_), "MPI_Comm_dup", -1);
  MPI_Comm_rank(comm_, &rank_);
  MPI_Comm_size(comm_, &size_);
  // Every rank must learn whether any rank lacks a GPU, or the others would hang in the
  // NCCL initialisation; the failing rank reports its own message.
  std::string why;
  try {
    const int count = cuda_device_count();
    require(count > 0, "no CUDA device visible to rank ", rank_);
    device_ = device_for_local_rank(count);
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
    fail("NCCL communicator: another rank has no CUDA device (rank ", rank_, " has device ", device_, ")");
  }
  check_cuda(cudaSetDevice(device_), "cudaSetDevice", rank_);
  ncclUniqueId id;
  if (rank_ == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId", rank_);
  check_mpi(MPI_Bcast(&id, int(sizeof(id)), MPI_BYTE, 0, comm_), "MPI_Bcast(ncclUniqueId)", rank_);
  ncclComm_t c = nullptr;
  check_nccl(ncclCommInitRank(&c, size_, id, rank_), "ncclCommInitRank", rank_);
  nccl_ = c;
  cudaStream_t s = nullptr;
  check_cuda(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate", rank_);
  stream_ = s;
}

NcclCommunicator::~NcclCommunicator() {
  if (nccl_) ncclCommDestroy(nccl_);
  if (staging_) cudaFree(staging_);
  if (stream_) cudaStreamDestroy(stream_);
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
  MPI_Abort(comm_ == MPI_COMM_NULL ? MPI_COMM_WORLD : comm_, code);
  std::_Exit(code);
}

void* NcclCommunicator::staging(size_t bytes) {
  if (bytes > staging_bytes_) {
    if (staging_) cudaFree(staging_);
    staging_ = nullptr;
    staging_bytes_ = 0;
    check_cuda(cudaMalloc(&staging_, bytes), "cudaMalloc(staging)", rank_);
    staging_bytes_ = bytes;
  }
  return staging_;
}

void NcclCommunicator::allreduce_raw(void* device_data, size_t n, int nccl_type) {
  if (n == 0) return;
  check_cuda(cudaSetDevice(device_), "cudaSetDevice", rank_);
  check_nccl(ncclAllReduce(device_data, device_data, n, ncclDataType_t(nccl_type), ncclSum, nccl_, stream_),
             "ncclAllReduce", rank_);
  check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize", rank_);
}

template <typename T>
void NcclCommunicator::allreduce_host(std::span<T> data, int nccl_type) {
  if (data.empty()) return;
  check_cuda(cudaSetDevice(device_), "cudaSetDevice", rank_);
  void* d = staging(data.size_bytes());
  check_cuda(cudaMemcpy(d, data.data(), data.size_bytes(), cudaMemcpyHostToDevice), "cudaMemcpy", rank_);
  allreduce_raw(d, data.size(), nccl_type);
  check_cuda(cudaMemcpy(data.data(), d, data.size_bytes(), cudaMemcpyDeviceToHost), "cudaMemcpy", rank_);
}

void NcclCommunicator::allreduce_sum(std::span<double> data) { allreduce_host(data, ncclFloat64); }
void NcclCommunicator::allreduce_sum(std::span<float> data) { allreduce_host(data, ncclFloat32); }
void NcclCommunicator::allreduce_sum(std::span<uint64_t> data) { allreduce_host(data, ncclUint64); }
void NcclCommunicator::allreduce_sum(std::span<uint32_t> data) { allreduce_host(data, ncclUint32); }
void NcclCommunicator::allreduce_sum_device(float* data, size_t n) { allreduce_raw(data, n, ncclFloat32); }
void NcclCommunicator::allreduce_sum_device(double* data, size_t n) { allreduce_raw(data, n, ncclFloat64); }

std::unique_ptr<Communicator> make_nccl_communicator(MPI_Comm comm) {
  return std::make_unique<NcclCommunicator>(comm);
}

std::unique_ptr<Communicator> make_nccl_world_communicator() { return make_nccl_communicator(MPI_COMM_WORLD); }

}  // namespace delayprop::dist
#endif  // DELAYPROP_HAVE_NCCL
