// Checks of the MPI communicator under a real launcher (tests/dist/tests.cmake runs it with
// mpiexec -n 1..4). Every check uses exactly predictable data (nccl-tests style: rank r
// contributes (r+1) * f(i)), and every rank agrees on the exit code.
//
//   delayprop_mpi_check MODE [--expect-size N]
//   MODE: collectives | coverage | fail-throw | fail-throw-main | fail-kill | stall
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "dist/comm.hpp"
#include "dist/launcher.hpp"
#include "dist/mpi.hpp"
#include "dist/shard.hpp"
#include "dist/watchdog.hpp"

#include <mpi.h>
#ifdef DELAYPROP_HAVE_CUDA
#include "kernels/cuda/cuda_engine.hpp"
#endif

#include <chrono>
#include <thread>

using namespace delayprop;
using namespace delayprop::dist;

namespace {

// Counts failed checks on this rank; the verdict is reduced over ranks at the end.
struct Checks {
  int rank = 0;
  int failed = 0;
  int passed = 0;
  template <typename... Parts>
  void expect(bool ok, const Parts&... parts) {
    if (ok) {
      ++passed;
      return;
    }
    ++failed;
    std::ostringstream os;
    (os << ... << parts);
    std::fprintf(stderr, "rank %d: FAILED: %s\n", rank, os.str().c_str());
  }
};

// Rank r puts (r+1) * pattern(i) at index i; the sum over ranks is size(size+1)/2 * pattern(i).
template <typename T, typename Pattern>
void check_sum(Checks& c, Communicator& comm, size_t n, Pattern pattern, const char* what) {
  const uint64_t r1 = uint64_t(comm.rank()) + 1;
  const uint64_t tri = uint64_t(comm.size()) * (uint64_t(comm.size()) + 1) / 2;
  std::vector<T> data(n);
  for (size_t i = 0; i < n; ++i) data[i] = T(r1 * pattern(i));
  comm.allreduce_sum(std::span<T>(data));
  size_t wrong = 0, first = n;
  for (size_t i = 0; i < n; ++i)
    if (data[i] != T(tri * pattern(i))) {
      ++wrong;
      if (first == n) first = i;
    }
  c.expect(wrong == 0, what, " (", comm.name(), ", n=", n, "): ", wrong,
           " wrong elements, first at ", first);
}

template <typename T>
void check_all_sums(Checks& c, Communicator& comm, size_t n, const char* type) {
  // Small values keep float sums exact; the 64-bit pattern needs more than 32 bits.
  const std::string what = std::string("allreduce_sum<") + type + ">";
  check_sum<T>(c, comm, n, [](size_t i) { return uint64_t(i % 1000 + 1); }, what.c_str());
  if constexpr (sizeof(T) == 8 && std::is_integral_v<T>)
    check_sum<T>(c, comm, n, [](size_t i) { return (uint64_t(1) << 36) + i; },
                 (what + " above 2^32").c_str());
}

void check_collectives(Checks& c, Communicator& comm, int expect_size) {
  const int r = comm.rank(), s = comm.size();
  if (expect_size > 0)
    c.expect(s == expect_size, "size ", s, ", launched with ", expect_size);
  c.expect(comm.name() == "mpi", "name '", comm.name(), "'");

  for (size_t n : {size_t(0), size_t(1), size_t(1003)}) {
    check_all_sums<double>(c, comm, n, "double");
    check_all_sums<float>(c, comm, n, "float");
    check_all_sums<uint64_t>(c, comm, n, "uint64");
    check_all_sums<uint32_t>(c, comm, n, "uint32");
  }

  // Max: exactly one rank holds 100 + i at index i, the others hold their rank.
  std::vector<double> m(257);
  for (size_t i = 0; i < m.size(); ++i) m[i] = int(i % s) == r ? 100.0 + i : double(r);
  comm.allreduce_max(std::span<double>(m));
  size_t wrong = 0;
  for (size_t i = 0; i < m.size(); ++i) wrong += m[i] != 100.0 + i;
  c.expect(wrong == 0, "allreduce_max: ", wrong, " wrong");
  c.expect(comm.max_value(double(r)) == s - 1, "max_value");
  c.expect(comm.sum_value(uint32_t(1)) == uint32_t(s), "sum_value");

  // Broadcast from the last rank; the others start with something else.
  for (int root : {0, s - 1}) {
    std::vector<uint8_t> b(1001);
    for (size_t i = 0; i < b.size(); ++i) b[i] = r == root ? uint8_t(i * 7 + root) : uint8_t(0xEE);
    comm.broadcast(std::as_writable_bytes(std::span<uint8_t>(b)), root);
    wrong = 0;
    for (size_t i = 0; i < b.size(); ++i) wrong += b[i] != uint8_t(i * 7 + root);
    c.expect(wrong == 0, "broadcast from ", root, ": ", wrong, " wrong bytes");
  }
  struct {
    double x;
    uint64_t n;
  } v = {r == 0 ? 3.25 : -1.0, r == 0 ? uint64_t(99) : 0};
  comm.broadcast_value(v, 0);
  c.expect(v.x == 3.25 && v.n == 99, "broadcast_value");

  comm.barrier();

  c.expect(!comm.any(false), "any(false) is true");
  c.expect(comm.any(r == s - 1), "any(only the last rank) is false");
  c.expect(comm.any(r == 0), "any(only rank 0) is false");
  c.expect(comm.any(true), "any(true) is false");

  std::vector<double> same(100, 1.5);
  c.expect(same_on_all_ranks(comm, std::as_bytes(std::span<double>(same))),
           "same_on_all_ranks on equal data");
  same[50] += r;
  c.expect(same_on_all_ranks(comm, std::as_bytes(std::span<double>(same))) == (s == 1),
           "same_on_all_ranks on rank-dependent data");

  c.expect(!comm.supports_device_buffers(), "MPI claims device buffers");
  bool threw = false;
  try {
    comm.allreduce_sum_device(nullptr, 0);
  } catch (const Error&) {
    threw = true;
  }
  c.expect(threw, "allreduce_sum_device did not throw");
}

void check_coverage(Checks& c, Communicator& comm) {
  int cases = 0;
  for (uint64_t n : {1u, 2u, 7u, 10u, 17u, 101u}) {
    for (uint64_t batch : {1u, 2u, 3u, 5u, 8u, 32u, 200u}) {
      for (uint32_t epoch = 0; epoch < 3; ++epoch) {
        const auto order = epoch_order(n, 2024, epoch);
        c.expect(same_on_all_ranks(comm, std::as_bytes(std::span<const uint32_t>(order))),
                 "epoch order differs between ranks (n=", n, " epoch=", epoch, ")");
        std::vector<uint32_t> seen(n, 0);
        const uint64_t nb = batches_per_epoch(n, batch);
        for (uint64_t k = 0; k < nb; ++k) {
          const auto mine = rank_batch(order, batch, k, comm.rank(), comm.size());
          for (uint32_t id : mine) seen[id]++;
          const uint64_t together = comm.sum_value(uint64_t(mine.size()));
          c.expect(together == global_batch(n, batch, k).size(), "batch ", k, " of n=", n,
                   " B=", batch, ": ranks hold ", together, " samples");
        }
        comm.allreduce_sum(std::span<uint32_t>(seen));
        size_t wrong = 0;
        for (uint32_t x : seen) wrong += x != 1;
        c.expect(wrong == 0, "n=", n, " B=", batch, " epoch=", epoch, ": ", wrong,
                 " samples not seen exactly once");
        ++cases;
      }
    }
  }
  if (comm.rank() == 0)
    std::printf("coverage: %d (n, batch, epoch) cases on %d ranks\n", cases, comm.size());
}

// Reduces the verdict so every rank returns the same code.
int verdict(Checks& c, Communicator& comm, const std::string& mode) {
  const bool failed = comm.any(c.failed > 0);
  if (comm.rank() == 0)
    std::printf("%s on %d ranks: %s (%d checks on rank 0)\n", mode.c_str(), comm.size(),
                failed ? "FAILED" : "passed", c.passed + c.failed);
  return failed ? 1 : 0;
}

// The failing rank waits until the others are inside a collective it never joins.
void fail_one_rank(Communicator& comm, const std::string& mode) {
  const int victim = comm.size() - 1;
  comm.barrier();
  if (comm.rank() == victim) {
    if (mode == "fail-kill") {
      std::fprintf(stderr, "rank %d: killing myself with SIGKILL\n", victim);
      std::raise(SIGKILL);
    }
    fail("deliberate failure on rank ", victim);
  }
  std::vector<double> never(8, 1.0);
  comm.allreduce_sum(std::span<double>(never));  // blocks: the victim never arrives
  std::fprintf(stderr, "rank %d: passed a collective the failed rank never joined\n", comm.rank());
}

// The last rank stops answering (alive, but never joins the all-reduce): the others wait in
// a non-blocking all-reduce under dist::wait_or_abort, the loop every NCCL collective runs
// in (dist/nccl_lib.cpp). After DELAYPROP_COMM_TIMEOUT_S it aborts and throws "rank R: ...
// did not complete within ..."; run_main then ends the job with MPI_Abort.
void stall_one_rank(Communicator& comm) {
  const int victim = comm.size() - 1;
  if (comm.rank() == victim) {
    std::fprintf(stderr, "rank %d: stops answering\n", victim);
    for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
  }
  std::vector<double> v(8, 1.0);
  MPI_Request req = MPI_REQUEST_NULL;
  MPI_Iallreduce(MPI_IN_PLACE, v.data(), 8, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD, &req);
  wait_or_abort(
      comm.rank(), "all-reduce", collective_timeout_s(),
      [&] {
        int done = 0;
        MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        return done ? Poll::done : Poll::pending;
      },
      [&] { std::fprintf(stderr, "rank %d: aborting the communicator\n", comm.rank()); });
  std::fprintf(stderr, "rank %d: passed an all-reduce the stalled rank never joined\n", comm.rank());
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "collectives";
  int expect_size = 0;
  if (argc > 3 && std::strcmp(argv[2], "--expect-size") == 0) expect_size = std::atoi(argv[3]);

  if (mode == "fail-throw") {
    // The exception leaves the MpiSession scope: its destructor must end the job.
    try {
      MpiSession mpi(&argc, &argv, "mpi");
      auto comm = make_communicator("mpi");
      fail_one_rank(*comm, mode);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "caught after the session ended: %s\n", e.what());
      return 1;
    }
    return 0;
  }

  MpiSession mpi(&argc, &argv, "mpi");
  return mpi.run_main("delayprop_mpi_check", [&]() -> int {
    auto comm = make_communicator("auto");  // under a launcher: MPI
    Checks c;
    c.rank = comm->rank();
    if (mode == "collectives") {
      check_collectives(c, *comm, expect_size);
      // Chunked: tiny chunks exercise the loop that keeps counts within int.
      auto chunked = make_mpi_communicator(7);
      check_collectives(c, *chunked, expect_size);
      auto chunked1 = make_mpi_communicator(1);
      check_all_sums<double>(c, *chunked1, 10, "double");
      // One machine: the shared-memory split puts every rank on one node, in rank order.
      const NodeRank nr = node_rank();
      c.expect(nr.local_rank == comm->rank() && nr.local_size == comm->size() &&
                   std::string(nr.source) == "mpi shared-memory split",
               "node_rank: local rank ", nr.local_rank, " of ", nr.local_size, " from ", nr.source);
#ifdef DELAYPROP_HAVE_CUDA
      // "auto" for a GPU engine falls back to MPI when NCCL cannot be used (no GPU here).
      if (cuda_device_count() == 0) {
        auto g = make_communicator("auto", {true, -1});
        c.expect(g->name() == "mpi", "auto with a GPU engine and no GPU: got ", g->name());
      }
#endif
    } else if (mode == "coverage") {
      check_coverage(c, *comm);
    } else if (mode == "stall") {
      stall_one_rank(*comm);
      return 0;
    } else if (mode == "fail-throw-main" || mode == "fail-kill") {
      fail_one_rank(*comm, mode);
      return 0;
    } else {
      fail("unknown mode '", mode, "'");
    }
    return verdict(c, *comm, mode);
  });
}
