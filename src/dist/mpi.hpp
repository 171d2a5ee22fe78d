#pragma once
// MPI lifetime. Compiles (as no-ops that refuse "mpi") without MPI, so drivers need no #ifdef.
//
//   int main(int argc, char** argv) {
//     delayprop::dist::MpiSession mpi(&argc, &argv);            // "auto": MPI under mpirun
//     return mpi.run_main("delayprop-train", [&] {
//       auto comm = delayprop::dist::make_communicator("auto");
//       ...
//     });
//   }
#include <functional>
#include <string>

namespace delayprop::dist {

class MpiSession {
 public:
  // Initialises MPI (MPI_THREAD_FUNNELED: only the main thread calls MPI, OpenMP threads do
  // not) when kind is "mpi", or "auto" and the process was started by an MPI launcher, and
  // MPI is not initialised yet. Other kinds leave MPI alone.
  MpiSession(int* argc, char*** argv, const std::string& kind = "auto");
  // Finalises MPI if this session initialised it. If an exception is unwinding and the job
  // has more than one rank, it prints a line and calls MPI_Abort instead: the other ranks
  // may wait in a collective this rank will never join, and MPI_Finalize would hang.
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  bool active() const;  // MPI is initialised and not finalised
  int world_rank() const { return rank_; }
  int world_size() const { return size_; }

  // delayprop::run_main (exception -> "PROG: error: MESSAGE", exit 1; usage error: 2), but
  // with more than one rank the message names the rank and the whole job is ended with
  // MPI_Abort, so one failing rank does not leave the others hanging.
  int run_main(const char* prog, const std::function<int()>& body);

 private:
  bool owns_ = false;
  int rank_ = 0;
  int size_ = 1;
  int uncaught_at_start_ = 0;
};

}  // namespace delayprop::dist
