// The MPI communicator and MpiSession. Without MPI (DELAYPROP_HAVE_MPI undefined) only the
// stubs at the end are compiled: the session does nothing and "mpi" is refused.
#include "dist/mpi.hpp"

#include "core/error.hpp"
#include "dist/comm.hpp"
#include "dist/launcher.hpp"

#include <unistd.h>

#include <iostream>

#ifdef DELAYPROP_HAVE_MPI

#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>

namespace delayprop::dist {
namespace {

bool mpi_active() {
  int init = 0, fin = 0;
  MPI_Initialized(&init);
  MPI_Finalized(&fin);
  return init && !fin;
}

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  fail(what, " failed: ", std::string(text, size_t(len)));
}

template <typename T>
MPI_Datatype mpi_type();
template <> MPI_Datatype mpi_type<double>() { return MPI_DOUBLE; }
template <> MPI_Datatype mpi_type<float>() { return MPI_FLOAT; }
template <> MPI_Datatype mpi_type<uint64_t>() { return MPI_UINT64_T; }
template <> MPI_Datatype mpi_type<uint32_t>() { return MPI_UINT32_T; }

class Mpi final : public Communicator {
 public:
  explicit Mpi(size_t max_chunk) : max_chunk_(max_chunk == 0 ? size_t(INT_MAX) : max_chunk) {
    require(max_chunk_ <= size_t(INT_MAX), "MPI communicator: chunk of ", max_chunk_,
            " elements does not fit an int count");
    // A private copy of the world: our collectives never match someone else's messages.
    check(MPI_Comm_dup(MPI_COMM_WORLD, &comm_), "MPI_Comm_dup");
    // Errors come back as codes and become exceptions with the call named.
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    (void)node_rank();  // collective the first time (shared-memory split); kept for later calls
  }
  ~Mpi() override {
    if (mpi_active()) MPI_Comm_free(&comm_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return "mpi"; }
  void barrier() override { check(MPI_Barrier(comm_), "MPI_Barrier"); }

  void broadcast(std::span<std::byte> data, int root) override {
    require(root >= 0 && root < size_, "broadcast: root ", root, " out of range for ", size_,
            " ranks");
    for (size_t at = 0; at < data.size(); at += max_chunk_) {
      const int n = int(std::min(max_chunk_, data.size() - at));
      check(MPI_Bcast(data.data() + at, n, MPI_BYTE, root, comm_), "MPI_Bcast");
    }
  }
  void allreduce_sum(std::span<double> d) override { reduce(d, MPI_SUM, "MPI_Allreduce(sum)"); }
  void allreduce_sum(std::span<float> d) override { reduce(d, MPI_SUM, "MPI_Allreduce(sum)"); }
  void allreduce_sum(std::span<uint64_t> d) override { reduce(d, MPI_SUM, "MPI_Allreduce(sum)"); }
  void allreduce_sum(std::span<uint32_t> d) override { reduce(d, MPI_SUM, "MPI_Allreduce(sum)"); }
  void allreduce_max(std::span<double> d) override { reduce(d, MPI_MAX, "MPI_Allreduce(max)"); }

  bool any(bool flag) override {
    int v = flag ? 1 : 0;
    check(MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_LOR, comm_), "MPI_Allreduce(lor)");
    return v != 0;
  }
  [[noreturn]] void abort(int code) override {
    std::fflush(nullptr);
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);  // MPI_Abort should not return; make sure we do not either
  }

 private:
  // Counts are int in MPI: cut long spans into chunks of at most max_chunk_ elements. Every
  // rank has the same span length, so every rank makes the same calls.
  template <typename T>
  void reduce(std::span<T> d, MPI_Op op, const char* what) {
    for (size_t at = 0; at < d.size(); at += max_chunk_) {
      const int n = int(std::min(max_chunk_, d.size() - at));
      check(MPI_Allreduce(MPI_IN_PLACE, d.data() + at, n, mpi_type<T>(), op, comm_), what);
    }
  }

  size_t max_chunk_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_communicator(size_t max_chunk) {
  require(mpi_active(), "MPI communicator: MPI is not initialised (",
          started_by_mpi_launcher() ? "create a dist::MpiSession before make_communicator"
                                    : "the process was not started by mpirun/mpiexec/srun",
          ")");
  return std::make_unique<Mpi>(max_chunk);
}

MpiSession::MpiSession(int* argc, char*** argv, const std::string& kind)
    : uncaught_at_start_(std::uncaught_exceptions()) {
  const bool wanted = kind == "mpi" || (kind == "auto" && started_by_mpi_launcher());
  int init = 0;
  MPI_Initialized(&init);
  if (wanted && !init) {
    int provided = 0;
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    owns_ = true;
    require(provided >= MPI_THREAD_FUNNELED,
            "MPI provides thread level ", provided, " < MPI_THREAD_FUNNELED");
  }
  if (mpi_active()) {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
}

MpiSession::~MpiSession() {
  if (!mpi_active()) return;
  if (std::uncaught_exceptions() > uncaught_at_start_ && size_ > 1) {
    std::fflush(nullptr);
    std::fprintf(stderr,
                 "delayprop: rank %d of %d: an exception is leaving the MPI session; "
                 "ending all ranks (MPI_Abort)\n",
                 rank_, size_);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  if (owns_) MPI_Finalize();
}

bool MpiSession::active() const { return mpi_active(); }

int MpiSession::run_main(const char* prog, const std::function<int()>& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    const int code = exit_code_for(e);
    if (!mpi_active() || size_ <= 1) {  // one rank: nobody waits for us
      std::cerr << error_line(prog, e) << std::endl;
      return code;
    }
    std::fflush(nullptr);
    // Every rank may fail with the same line at the same moment: one write per line, so that
    // the launcher's merged stderr never interleaves two of them.
    const std::string line = std::string(prog) + (code == 2 ? ": usage error" : ": error") + " (rank " +
                             std::to_string(rank_) + " of " + std::to_string(size_) + "): " + one_line(e.what()) + "\n";
    std::cerr.flush();
    [[maybe_unused]] const ssize_t written = ::write(STDERR_FILENO, line.data(), line.size());
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);
  }
}

}  // namespace delayprop::dist

#else  // no MPI: a session that does nothing, and a clear refusal of "mpi"

namespace delayprop::dist {

std::unique_ptr<Communicator> make_mpi_communicator(size_t) {
  fail("this build of delayprop has no MPI support (MPI was not found at configure time;",
       " see DELAYPROP_MPI)", started_by_mpi_launcher()
                                  ? ", yet the process was started by an MPI launcher"
                                  : "");
}

MpiSession::MpiSession(int*, char***, const std::string&) {}
MpiSession::~MpiSession() = default;
bool MpiSession::active() const { return false; }
int MpiSession::run_main(const char* prog, const std::function<int()>& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    std::cerr << error_line(prog, e) << std::endl;
    return exit_code_for(e);
  }
}

}  // namespace delayprop::dist

#endif
