// Communicators that run in one process (local, dry-run) and the sharding helpers. The same
// properties are checked under real mpirun in tests/dist.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <numeric>
#include <vector>

#include "core/error.hpp"
#include "dist/comm.hpp"
#include "dist/launcher.hpp"
#include "dist/mpi.hpp"
#include "dist/shard.hpp"
#include "dist/watchdog.hpp"
#ifdef DELAYPROP_HAVE_NCCL_RUNTIME
#include "dist/nccl_lib.hpp"
#endif

using namespace delayprop;
using namespace delayprop::dist;

TEST(ShardOf, SplitsEvenlyFirstRanksGetTheRemainder) {
  // 10 over 4: 3 3 2 2.
  const uint64_t sizes[] = {3, 3, 2, 2};
  uint64_t expected_begin = 0;
  for (int r = 0; r < 4; ++r) {
    const Shard s = shard_of(10, r, 4);
    EXPECT_EQ(s.begin, expected_begin) << "rank " << r;
    EXPECT_EQ(s.size(), sizes[r]) << "rank " << r;
    expected_begin = s.end;
  }
  // Fewer items than ranks: the last ranks get nothing.
  EXPECT_EQ(shard_of(2, 0, 4).size(), 1u);
  EXPECT_EQ(shard_of(2, 1, 4).size(), 1u);
  EXPECT_TRUE(shard_of(2, 2, 4).empty());
  EXPECT_TRUE(shard_of(2, 3, 4).empty());
  EXPECT_TRUE(shard_of(0, 0, 1).empty());
}

TEST(ShardOf, RejectsBadRanks) {
  EXPECT_THROW(shard_of(10, 4, 4), Error);
  EXPECT_THROW(shard_of(10, -1, 4), Error);
  EXPECT_THROW(shard_of(10, 0, 0), Error);
}

TEST(EpochOrder, IsADeterministicPermutationThatChangesPerEpoch) {
  const uint64_t n = 1000;
  const auto a = epoch_order(n, 42, 0);
  ASSERT_EQ(a.size(), n);
  std::vector<uint32_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  for (uint32_t i = 0; i < n; ++i) ASSERT_EQ(sorted[i], i);
  EXPECT_EQ(epoch_order(n, 42, 0), a);   // same seed and epoch: same order
  EXPECT_NE(epoch_order(n, 42, 1), a);   // next epoch: another order
  EXPECT_NE(epoch_order(n, 43, 0), a);   // another seed: another order
  std::vector<uint32_t> identity(n);
  std::iota(identity.begin(), identity.end(), 0u);
  EXPECT_NE(a, identity);
  EXPECT_TRUE(epoch_order(0, 1, 0).empty());
  EXPECT_EQ(epoch_order(1, 1, 0), std::vector<uint32_t>{0});
}

TEST(EpochOrder, EveryPositionIsReachable) {
  // Fisher-Yates, not a biased variant that keeps some element in place: over many epochs
  // element 0 visits every position of a small permutation.
  const uint64_t n = 5;
  std::vector<int> seen(n, 0);
  for (uint32_t e = 0; e < 200; ++e) {
    const auto o = epoch_order(n, 7, e);
    seen[std::find(o.begin(), o.end(), 0u) - o.begin()]++;
  }
  for (uint64_t p = 0; p < n; ++p) EXPECT_GT(seen[p], 10) << "position " << p;
}

TEST(RankBatch, EverySampleExactlyOncePerEpochForAnyRankCount) {
  for (uint64_t n : {1u, 7u, 10u, 17u, 64u, 101u}) {
    for (uint64_t batch : {1u, 2u, 3u, 5u, 8u, 32u, 200u}) {
      for (int size = 1; size <= 4; ++size) {
        for (uint32_t epoch = 0; epoch < 2; ++epoch) {
          const auto order = epoch_order(n, 123, epoch);
          std::vector<int> count(n, 0);
          const uint64_t nb = batches_per_epoch(n, batch);
          for (uint64_t k = 0; k < nb; ++k) {
            uint64_t in_batch = 0;
            for (int r = 0; r < size; ++r) {
              for (uint32_t id : rank_batch(order, batch, k, r, size)) count[id]++;
              in_batch += rank_batch(order, batch, k, r, size).size();
            }
            // The ranks together hold exactly global batch k.
            EXPECT_EQ(in_batch, global_batch(n, batch, k).size());
          }
          for (uint64_t i = 0; i < n; ++i)
            ASSERT_EQ(count[i], 1) << "sample " << i << " n=" << n << " B=" << batch
                                   << " ranks=" << size << " epoch=" << epoch;
        }
      }
    }
  }
}

TEST(RankBatch, ShortLastBatchCanLeaveRanksEmpty) {
  const auto order = epoch_order(9, 1, 0);  // B = 4: batches of 4, 4, 1
  ASSERT_EQ(batches_per_epoch(9, 4), 3u);
  EXPECT_EQ(global_batch(9, 4, 2).size(), 1u);
  EXPECT_EQ(rank_batch(order, 4, 2, 0, 3).size(), 1u);
  EXPECT_TRUE(rank_batch(order, 4, 2, 1, 3).empty());
  EXPECT_TRUE(rank_batch(order, 4, 2, 2, 3).empty());
  EXPECT_THROW(global_batch(9, 4, 3), Error);
  EXPECT_THROW(batches_per_epoch(9, 0), Error);
}

TEST(LocalCommunicator, CollectivesAreIdentities) {
  auto c = make_communicator("local");
  EXPECT_EQ(c->rank(), 0);
  EXPECT_EQ(c->size(), 1);
  std::vector<double> d = {1.5, -2.0};
  c->allreduce_sum(std::span<double>(d));
  EXPECT_EQ(d, (std::vector<double>{1.5, -2.0}));
  c->allreduce_max(std::span<double>(d));
  EXPECT_EQ(d, (std::vector<double>{1.5, -2.0}));
  EXPECT_TRUE(c->any(true));
  EXPECT_FALSE(c->any(false));
  c->barrier();
  EXPECT_FALSE(c->supports_device_buffers());
  EXPECT_THROW(c->allreduce_sum_device(nullptr, 0), Error);
}

TEST(DryRunCommunicator, SumsAsIfEveryRankHadTheSameData) {
  auto c = make_communicator("dryrun:4:2");
  EXPECT_EQ(c->rank(), 2);
  EXPECT_EQ(c->size(), 4);
  EXPECT_EQ(c->name(), "dryrun:4:2");
  std::vector<double> d = {1.0, 0.25};
  c->allreduce_sum(std::span<double>(d));
  EXPECT_EQ(d, (std::vector<double>{4.0, 1.0}));
  std::vector<float> f = {3.0f};
  c->allreduce_sum(std::span<float>(f));
  EXPECT_EQ(f[0], 12.0f);
  std::vector<uint64_t> u = {uint64_t(1) << 40};
  c->allreduce_sum(std::span<uint64_t>(u));
  EXPECT_EQ(u[0], uint64_t(1) << 42);
  EXPECT_EQ(c->sum_value(uint32_t{5}), 20u);
  EXPECT_EQ(c->max_value(2.5), 2.5);
  int v = 7;
  c->broadcast_value(v, 0);  // no-op: this process already is every rank
  EXPECT_EQ(v, 7);
  EXPECT_THROW(c->broadcast_value(v, 4), Error);
  EXPECT_TRUE(c->any(true));
  EXPECT_FALSE(c->any(false));
  EXPECT_TRUE(same_on_all_ranks(*c, std::as_bytes(std::span<double>(d))));
  EXPECT_THROW(c->allreduce_sum_device(nullptr, 0), Error);
}

TEST(DryRunCommunicator, ShardsLikeTheRankItStandsFor) {
  // A sharded sum of per-sample values, reduced by the dry run, equals the full sum when
  // every rank's shard has the same content (here: the same value everywhere).
  const uint64_t batch = 12;
  for (int size : {1, 2, 3, 4}) {
    auto c = make_dryrun_communicator(size, size - 1);
    const Shard s = shard_of(batch, c->rank(), c->size());
    EXPECT_EQ(c->sum_value(uint64_t(s.size())), batch) << "size " << size;
  }
}

TEST(MakeCommunicator, RejectsBadKinds) {
  for (const char* kind : {"", "nccl2", "MPI", "dryrun", "dryrun:4", "dryrun:4:4", "dryrun:0:0",
                           "dryrun:x:0", "dryrun:4:-1", "dryrun:2:1x"})
    EXPECT_THROW(make_communicator(kind), Error) << kind;
}

TEST(MakeCommunicator, AutoIsLocalOutsideMpirun) {
  if (started_by_mpi_launcher()) GTEST_SKIP() << "running under an MPI launcher";
  EXPECT_EQ(make_communicator("auto")->name(), "local");
  // No MpiSession made MPI ready: asking for MPI says so (or that MPI is not built in).
  EXPECT_THROW(make_communicator("mpi"), Error);
}

TEST(MpiSession, LeavesMpiAloneForLocalRuns) {
  int argc = 0;
  char** argv = nullptr;
  MpiSession s(&argc, &argv, "local");
  EXPECT_FALSE(s.active());
  EXPECT_EQ(s.world_size(), 1);
  EXPECT_EQ(s.run_main("test", [] { return 3; }), 3);
}

TEST(Checksum, DependsOnEveryByteAndTheLength) {
  std::vector<double> a = {1.0, 2.0, 3.0};
  const uint64_t h = checksum(std::as_bytes(std::span<double>(a)));
  EXPECT_EQ(h, checksum(std::as_bytes(std::span<double>(a))));
  a[2] = std::nextafter(3.0, 4.0);
  EXPECT_NE(h, checksum(std::as_bytes(std::span<double>(a))));
  const std::byte z[3] = {};
  EXPECT_NE(checksum(std::span<const std::byte>(z, 2)), checksum(std::span<const std::byte>(z, 3)));
}

TEST(GpuForRank, ExplicitDeviceWinsElseNodeLocalRankModuloDevices) {
  const NodeRank third{2, 4, "test"};
  EXPECT_EQ(gpu_for_rank(1, third, 8), 1);   // engine.device = 1
  EXPECT_EQ(gpu_for_rank(-1, third, 8), 2);  // auto: local rank 2
  EXPECT_EQ(gpu_for_rank(-1, third, 2), 0);  // 2 % 2
  EXPECT_EQ(gpu_for_rank(-1, third, 0), 0);  // no device: the engine reports it
}

TEST(NodeRank, FromLauncherVariablesOutsideMpi) {
  if (started_by_mpi_launcher()) GTEST_SKIP() << "running under an MPI launcher";
  const NodeRank alone = node_rank();
  EXPECT_EQ(alone.local_rank, 0);
  EXPECT_EQ(alone.local_size, 1);
  setenv("SLURM_LOCALID", "3", 1);
  setenv("SLURM_NTASKS_PER_NODE", "4", 1);
  const NodeRank r = node_rank();
  unsetenv("SLURM_LOCALID");
  unsetenv("SLURM_NTASKS_PER_NODE");
  EXPECT_EQ(r.local_rank, 3);
  EXPECT_EQ(r.local_size, 4);
  EXPECT_STREQ(r.source, "launcher variables");
}

TEST(Watchdog, ReturnsWhenDoneAbortsWhenNeverDone) {
  int polls = 0, aborts = 0;
  wait_or_abort(
      3, "quick op", 10.0, [&] { return ++polls >= 5 ? Poll::done : Poll::pending; }, [&] { ++aborts; });
  EXPECT_EQ(polls, 5);
  EXPECT_EQ(aborts, 0);
  try {
    wait_or_abort(3, "NCCL all-reduce", 0.05, [] { return Poll::pending; }, [&] { ++aborts; });
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_EQ(aborts, 1);
    EXPECT_NE(std::string(e.what()).find("rank 3: NCCL all-reduce did not complete within 0.05 s"), std::string::npos)
        << e.what();
  }
  // An error seen by the poll propagates as it is.
  EXPECT_THROW(wait_or_abort(0, "x", 10.0, []() -> Poll { fail("remote error"); }, nullptr), Error);
}

#ifndef DELAYPROP_HAVE_NCCL
TEST(MakeCommunicator, NcclRefusedWithoutNccl) {
  try {
    make_communicator("nccl");
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no NCCL communicator"), std::string::npos) << e.what();
  }
}
#endif

#ifdef DELAYPROP_HAVE_NCCL_RUNTIME
// NCCL is loaded at run time: either it loads with every entry point we use (a version is
// reported; no GPU is needed for that), or the reason names DELAYPROP_NCCL_LIB.
TEST(NcclRuntime, LoadsOrSaysWhy) {
  std::string why;
  if (nccl_load(&why)) {
    EXPECT_EQ(nccl_describe().rfind("NCCL 2.", 0), 0u) << nccl_describe();
    std::cout << nccl_describe() << "\n";
  } else {
    EXPECT_NE(why.find("DELAYPROP_NCCL_LIB"), std::string::npos) << why;
  }
}

// Run by ctest with DELAYPROP_NCCL_LIB pointing nowhere (unit.nccl_bad_path): loading fails
// with a message that names the path and the variable, and a 1-rank group cannot be made.
TEST(NcclRuntime, BadPathSaysWhy) {
  const char* lib = std::getenv("DELAYPROP_NCCL_LIB");
  if (!lib || std::string(lib).find("nonexistent") == std::string::npos)
    GTEST_SKIP() << "needs DELAYPROP_NCCL_LIB=/nonexistent/...";
  std::string why;
  EXPECT_FALSE(nccl_load(&why));
  EXPECT_NE(why.find("nonexistent"), std::string::npos) << why;
  EXPECT_NE(why.find("DELAYPROP_NCCL_LIB"), std::string::npos) << why;
  EXPECT_THROW(nccl_unique_id(), Error);
}
#endif
