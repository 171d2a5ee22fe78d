// Hostile input: every case a fuzzing campaign found to crash, hang or silently misread, as a
// regression test. Each must end in one error line naming the file and the key or field.
#include <gtest/gtest.h>
#include <omp.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <new>
#include <tuple>

#include "core/error.hpp"
#include "io/checkpoint.hpp"
#include "io/config.hpp"
#include "io/data/events.hpp"
#include "io/h5.hpp"
#include "io/param_io.hpp"
#include "kernels/common.hpp"
#include "grad_test_util.hpp"

using namespace delayprop;
using namespace delayprop::testutil;
namespace fs = std::filesystem;

namespace {

const std::string kCorpus = DELAYPROP_SOURCE_DIR "/tests/fuzz/corpus";
const std::string kGradBin = DELAYPROP_BINARY_DIR "/delayprop-grad";
const std::string kTrainBin = DELAYPROP_BINARY_DIR "/delayprop-train";

std::string corpus_config(const std::string& name) { return kCorpus + "/config/" + name; }

// fn must throw Error: one line, containing every part.
void expect_error(const std::function<void()>& fn, const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected one naming " << ::testing::PrintToString(parts);
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "not one line: " << msg;
    for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
  }
}

// Sets an environment variable for the scope.
struct ScopedEnv {
  std::string name;
  ScopedEnv(const char* n, const char* v) : name(n) { setenv(n, v, 1); }
  ~ScopedEnv() { unsetenv(name.c_str()); }
};

Config small_config() {
  return parse_config(slurp(corpus_config("epochs-zero.toml")), "small.toml", {"train.epochs=2"});
}

TEST(Hostile, ConfigIntegersAreNeverWrapped) {
  expect_error([] { load_config(corpus_config("steps-wraps-32bit.toml")); },
               {"steps-wraps-32bit.toml", "'network.steps'", "4294967297", "out of range"});
  expect_error([] { load_config(corpus_config("batch-size-wraps-32bit.toml")); },
               {"batch-size-wraps-32bit.toml", "'train.batch_size'", "4294967297"});
  expect_error([] { load_config(corpus_config("shift-wraps-32bit.toml")); },
               {"shift-wraps-32bit.toml", "'data.shift'", "2147483648"});
  expect_error([] { load_config(corpus_config("n-train-wraps-32bit.toml")); }, {"'data.n_train'", "4294967396"});
  expect_error([] { load_config(corpus_config("duration-overflow.toml")); }, {"network.duration", "out of range"});
  expect_error([] { load_config(corpus_config("epochs-zero.toml")); }, {"epochs-zero.toml", "train.epochs", "0"});
}

TEST(Hostile, ThreadCountBounded) {
  expect_error([] { load_config(corpus_config("threads-100000.toml")); },
               {"threads-100000.toml", "engine.threads", "100000", "out of range"});
}

TEST(Hostile, SetWithABadArrayIndex) {
  expect_error([] { load_config(corpus_config("epochs-zero.toml"), {"network.population.x.size=3"}); },
               {"--set", "network.population.x.size", "'x' is not an array index"});
  expect_error([] { load_config(corpus_config("epochs-zero.toml"), {"network.population.99999999999.size=3"}); },
               {"--set", "not an array index"});
}

TEST(Hostile, MemoryNeedsCheckedBeforeAllocating) {
  // max_delay 199999 ms at dt 0.02 ms: 10^7 delay steps of rings per thread.
  const Config c = parse_config(slurp(corpus_config("max-delay-199999-dt-0.02.toml")), "delay.toml");
  {
    ScopedEnv limit("DELAYPROP_MEMORY_LIMIT", "100000000");
    expect_error([&] { check_engine_memory(c.net, c.engine, c.source); },
                 {"delay.toml", "network.connection.0.max_delay = 199999", "network.dt = 0.02",
                  "network.population.1.size", "bytes) are available"});
  }
  // A 10^9-neuron input population passes every size check but not the memory check.
  const Config g = parse_config(slurp(corpus_config("population-1e9.toml")), "giant.toml");
  expect_error([&] { check_engine_memory(g.net, g.engine, g.source); },
               {"giant.toml", "network.population.0.size", "6000000012 parameters", "available"});
}

TEST(Hostile, NoExceptionLeavesAnOpenMpRegion) {
  ThreadErrors errors;
#pragma omp parallel num_threads(4)
  {
#pragma omp for
    for (int i = 0; i < 64; ++i)
      errors.run([&] {
        if (i == 17) throw std::bad_alloc();
      });
  }
  EXPECT_TRUE(errors.failed());
  expect_error([&] { errors.rethrow("backward"); }, {"backward", "out of memory"});
}

TEST(Hostile, FifoInsteadOfAFileDoesNotBlock) {
  TempDir dir;
  ASSERT_EQ(mkfifo(dir.file("checkpoint.h5").c_str(), 0644), 0);
  ASSERT_EQ(mkfifo(dir.file("config.toml").c_str(), 0644), 0);
  const Config c = small_config();
  const auto t0 = std::chrono::steady_clock::now();
  expect_error([&] { read_checkpoint(dir.path(), c.net); }, {"checkpoint.h5", "not a regular file (a FIFO)"});
  expect_error([&] { load_config(dir.file("config.toml")); }, {"config.toml", "not a regular file (a FIFO)"});
  expect_error([&] { read_events(dir.file("checkpoint.h5")); }, {"checkpoint.h5", "a FIFO"});
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5.0);
}

TEST(Hostile, ResumeFromAFifoDriver) {
  TempDir dir;
  fs::create_directories(dir.file("out"));
  ASSERT_EQ(mkfifo(dir.file("out/checkpoint.h5").c_str(), 0644), 0);
  const auto r = run_process({kTrainBin, "--config", DELAYPROP_SOURCE_DIR "/tests/dist/yinyang_small.toml", "--out",
                              dir.file("out"), "--resume", "--quiet"},
                             dir.path());
  ASSERT_TRUE(r.exited) << r.err;
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("checkpoint.h5: HDF5 file is not a regular file (a FIFO)"), std::string::npos) << r.err;
}

TEST(Hostile, CheckpointCursorsRangeChecked) {
  TempDir dir;
  const Config c = small_config();
  TrainState st;
  st.params = init_params(c.net, 1);
  st.best_params = st.params;
  st.adam_m.assign(c.net.n_params, 0.0);
  st.adam_v.assign(c.net.n_params, 0.0);
  st.epoch_spike_counts.assign(3, 0.0);
  write_checkpoint(dir.path(), c.net, st, c.resolved_toml, 1);
  ASSERT_TRUE(read_checkpoint(dir.path(), c.net).has_value());
  for (const char* field : {"/epoch", "/batch", "/best_epoch"}) {
    // One cursor rewritten out of its range.
    TempDir d2;
    write_checkpoint(d2.path(), c.net, st, c.resolved_toml, 1);
    {
      const hid_t id = H5Fopen(d2.file("checkpoint.h5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
      ASSERT_GE(id, 0);
      ASSERT_GE(H5Ldelete(id, field, H5P_DEFAULT), 0);
      auto put = [&](const char* name, int64_t v) {
        const hid_t sp = H5Screate(H5S_SCALAR);
        const hid_t ds = H5Dcreate2(id, name, H5T_NATIVE_INT64, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dwrite(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v);
        H5Dclose(ds);
        H5Sclose(sp);
      };
      put(field, int64_t(1) << 33);
      // Format 1 has no per-array checksums (format 2's would name the edit first): the
      // range check is what must catch it. The file checksum is then written anew.
      ASSERT_GE(H5Ldelete(id, "/checksums", H5P_DEFAULT), 0);
      ASSERT_GE(H5Ldelete(id, "/format_version", H5P_DEFAULT), 0);
      put("/format_version", 1);
      H5Fclose(id);
      std::ifstream in(d2.file("checkpoint.h5"), std::ios::binary);
      std::vector<unsigned char> image((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      seal_image(image);
      std::ofstream(d2.file("checkpoint.h5"), std::ios::binary | std::ios::trunc)
          .write(reinterpret_cast<const char*>(image.data()), std::streamsize(image.size()));
    }
    expect_error([&] { read_checkpoint(d2.path(), c.net); }, {"checkpoint.h5", std::string("'") + field + "'",
                                                              "8589934592", "out of range"});
  }
}

// A checkpoint whose cursors lie outside the run the config describes (100 samples in
// batches of 33: 4 batches per epoch; 2 epochs) is refused on --resume, naming the field.
TEST(Hostile, ResumeCursorsOutsideTheRunDriver) {
  const std::string cfg_path = DELAYPROP_SOURCE_DIR "/tests/dist/yinyang_small.toml";
  const Config c = load_config(cfg_path);
  for (const auto& [epoch, batch, field] :
       {std::tuple<uint32_t, uint32_t, const char*>{0, 50, "'/batch' = 50 is out of range [0, 4]"},
        {7, 0, "'/epoch' = 7 is out of range [0, 2]"}}) {
    TempDir dir;
    TrainState st;
    st.params = init_params(c.net, 1);
    st.best_params = st.params;
    st.adam_m.assign(c.net.n_params, 0.0);
    st.adam_v.assign(c.net.n_params, 0.0);
    st.epoch = epoch;
    st.batch = batch;
    st.epoch_spike_counts.assign(20, 0.0);
    fs::create_directories(dir.file("out"));
    write_checkpoint(dir.file("out"), c.net, st, c.resolved_toml, 1);
    const auto r = run_process({kTrainBin, "--config", cfg_path, "--out", dir.file("out"), "--resume", "--quiet"},
                               dir.path());
    ASSERT_TRUE(r.exited) << r.err;
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_NE(r.err.find("checkpoint.h5: " + std::string(field)), std::string::npos) << r.err;
  }
}

// Every file of the batch corpus (references with a corrupt length, heap index or heap
// address: heap over-reads inside libhdf5 before) ends in one line naming the file.
// libhdf5-segfault.h5 crashes libhdf5 itself (SIGSEGV) and libhdf5-endless-loop.once.h5
// makes it loop: both end in the checking child (a 5 s limit here).
TEST(Hostile, CorruptBatchFilesDriver) {
  TempDir dir;
  ScopedEnv limit("DELAYPROP_H5_CHECK_TIMEOUT", "5");
  dir.write("config.toml", slurp(corpus_config("epochs-zero.toml")));
  int n = 0;
  for (const auto& e : fs::directory_iterator(kCorpus + "/batch")) {
    ++n;
    const auto r = run_process({kGradBin, "--config", dir.file("config.toml"), "--set", "train.epochs=1", "--input",
                                e.path().string(), "--param-seed", "1", "--out", dir.file("out.h5")},
                               dir.path());
    ASSERT_TRUE(r.exited) << e.path() << ": killed by signal " << r.code << "; " << r.err;
    EXPECT_EQ(r.code, 1) << e.path() << ": " << r.err;
    EXPECT_EQ(r.err.rfind("delayprop-grad: error: " + e.path().string() + ": ", 0), 0u) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "not one line: " << r.err;
    const std::string name = e.path().filename().string();
    if (name.rfind("libhdf5-", 0) == 0) {
      const char* want = name.find("loop") != std::string::npos ? "did not finish within 5 s" : "checking subprocess";
      EXPECT_NE(r.err.find(want), std::string::npos) << r.err;
    }
  }
  EXPECT_GT(n, 0);
}

// A value quoted from a file may hold a line break: the driver still prints one line.
TEST(Hostile, ErrorsAreOneLineDriver) {
  TempDir dir;
  std::string cfg = slurp(corpus_config("epochs-zero.toml"));
  cfg.replace(cfg.find("kind = \"lif\""), 12, "kind = \"l\\nif\\u0007\"");
  dir.write("config.toml", cfg);
  const auto r = run_process({kGradBin, "--config", dir.file("config.toml"), "--input", dir.file("none.h5"),
                              "--param-seed", "1", "--out", dir.file("out.h5")},
                             dir.path());
  ASSERT_TRUE(r.exited) << r.err;
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "not one line: " << r.err;
  EXPECT_NE(r.err.find("unknown kind 'l\\nif\\x07'"), std::string::npos) << r.err;
}

TEST(Hostile, EmptyBatchDriver) {
  TempDir dir;
  dir.write("config.toml", slurp(corpus_config("epochs-zero.toml")));
  EventDataset d;
  d.n_channels = 2;
  d.n_classes = 2;
  write_events(dir.file("empty.h5"), d, "ms");
  const auto r = run_process({kGradBin, "--config", dir.file("config.toml"), "--set", "train.epochs=1", "--input",
                              dir.file("empty.h5"), "--param-seed", "1", "--out", dir.file("out.h5")},
                             dir.path());
  ASSERT_TRUE(r.exited) << r.err;
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("empty.h5: '/labels' is empty"), std::string::npos) << r.err;
}

TEST(Hostile, ThreadsFromTheCommandLine) {
  TempDir dir;
  dir.write("config.toml", slurp(corpus_config("epochs-zero.toml")));
  const auto r = run_process({kGradBin, "--config", dir.file("config.toml"), "--set", "train.epochs=1", "--input",
                              dir.file("none.h5"), "--param-seed", "1", "--out", dir.file("out.h5"), "--threads",
                              "100000"},
                             dir.path());
  ASSERT_TRUE(r.exited) << r.err;
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("engine.threads = 100000 is out of range"), std::string::npos) << r.err;
}

// A full disk (simulated with RLIMIT_FSIZE and SIGXFSZ ignored: writes past the limit fail
// with EFBIG, as they fail with ENOSPC on a full file system) ends with one error line and
// exit code 1, never with a crash at exit or a silent success.
TEST(Hostile, FullDiskDriver) {
  for (const long limit : {4096L, 8192L, 16384L}) {
    TempDir dir;
    const pid_t pid = fork();
    if (pid == 0) {
      const int e = open(dir.file("stderr.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int o = open("/dev/null", O_WRONLY);
      dup2(e, 2);
      dup2(o, 1);
      signal(SIGXFSZ, SIG_IGN);
      rlimit rl{rlim_t(limit), rlim_t(limit)};
      setrlimit(RLIMIT_FSIZE, &rl);
      execl(kTrainBin.c_str(), kTrainBin.c_str(), "--config", DELAYPROP_SOURCE_DIR "/tests/dist/yinyang_small.toml",
            "--out", dir.file("out").c_str(), "--quiet", static_cast<char*>(nullptr));
      _exit(127);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    const std::string err = slurp(dir.file("stderr.txt"));
    ASSERT_TRUE(WIFEXITED(status)) << "limit " << limit << ": killed by signal " << WTERMSIG(status) << "; " << err;
    EXPECT_EQ(WEXITSTATUS(status), 1) << "limit " << limit << ": " << err;
    EXPECT_NE(err.find("cannot write"), std::string::npos) << err;
    EXPECT_EQ(err.find('\n'), err.size() - 1) << "not one line: " << err;
  }
}

}  // namespace
