#include "io/checkpoint.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "core/error.hpp"
#include "io/h5.hpp"
#include "io/param_io.hpp"
#include "io/test_hooks.hpp"
#include "io/version.hpp"

namespace delayprop {
namespace fs = std::filesystem;

namespace {
void fsync_path(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}
}  // namespace

void write_checkpoint(const std::string& dir, const Network& net, const TrainState& st, const std::string& config_toml,
                      int world_size, const std::string& data_fingerprint) {
  const std::string final_path = dir + "/checkpoint.h5";
  const std::string tmp = dir + "/checkpoint.h5.tmp";
  {
    auto f = h5::File::create(tmp);
    f.write_scalar("/format_version", kCheckpointVersion);
    f.write_scalar("/world_size", int64_t(world_size));
    f.write_string("/config", config_toml);
    write_params(net, st.params, f, "/params");
    f.write("/params_flat", st.params, {st.params.size()});
    f.flush();
    kill_point("checkpoint");
    f.write("/best_params_flat", st.best_params, {st.best_params.size()});
    f.write("/adam/m", st.adam_m, {st.adam_m.size()});
    f.write("/adam/v", st.adam_v, {st.adam_v.size()});
    f.write_scalar("/adam/t", int64_t(st.adam_t));
    f.write_scalar("/epoch", int64_t(st.epoch));
    f.write_scalar("/batch", int64_t(st.batch));
    f.write_scalar("/best_metric", st.best_metric);
    f.write_scalar("/best_epoch", int64_t(st.best_epoch));
    f.write_scalar("/epochs_since_best", int64_t(st.epochs_since_best));
    f.write_scalar("/presentations_to_100", int64_t(st.presentations_to_100));
    f.write("/epoch_sums", std::vector<double>{st.epoch_loss, st.epoch_correct, st.epoch_samples}, {3});
    f.write("/epoch_spike_counts", st.epoch_spike_counts, {st.epoch_spike_counts.size()});
    f.write_scalar("/wall_time_s", st.wall_time_s);
    f.write_scalar("/samples_trained", int64_t(st.samples_trained));
    // Additions readers of format 1 may ignore: what built the program, and the data.
    const BuildInfo& b = build_info();
    f.write_string("/build/version", b.version);
    f.write_string("/build/git_commit", b.git_commit);
    f.write_string("/build/options", b.options);
    if (!data_fingerprint.empty()) f.write_string("/data_fingerprint", data_fingerprint);
    f.flush();
    f.close();
  }
  fsync_path(tmp);
  std::error_code ec;
  if (fs::exists(final_path)) fs::rename(final_path, dir + "/checkpoint.prev.h5", ec);
  fs::rename(tmp, final_path, ec);
  require(!ec, final_path, ": cannot move the new checkpoint into place: ", ec.message());
  fsync_path(dir);
}

namespace {
TrainState load(const std::string& path, const Network& net) {
  auto f = h5::File::open_read(path);
  const auto version = f.read_ints("/format_version");
  require(version.size() == 1 && version[0] == kCheckpointVersion, path, ": checkpoint format version ",
          version.empty() ? -1 : version[0], " is not supported (expected ", kCheckpointVersion, ")");
  TrainState st;
  st.params = f.read_doubles("/params_flat");
  require(st.params.size() == net.n_params, path, ": checkpoint has ", st.params.size(), " parameters, the network ",
          net.n_params, " (different network?)");
  st.best_params = f.read_doubles("/best_params_flat");
  st.adam_m = f.read_doubles("/adam/m");
  st.adam_v = f.read_doubles("/adam/v");
  require(st.adam_m.size() == net.n_params && st.adam_v.size() == net.n_params, path, ": Adam state has the wrong size");
  require(st.best_params.size() == net.n_params, path, ": '/best_params_flat' has ", st.best_params.size(),
          " values, the network ", net.n_params);
  // Every cursor and counter in its declared range: a corrupt value is an error, never wrapped.
  auto scalar = [&](const char* name, int64_t lo, int64_t hi) {
    auto v = f.read_ints(name);
    require(v.size() == 1, path, ": '", name, "' must be a scalar");
    require(v[0] >= lo && v[0] <= hi, path, ": '", name, "' = ", v[0], " is out of range [", lo, ", ", hi, "]");
    return v[0];
  };
  auto real = [&](const char* name) {
    auto v = f.read_doubles(name);
    require(v.size() == 1, path, ": '", name, "' must be a scalar");
    require(!std::isnan(v[0]), path, ": '", name, "' is NaN");
    return v[0];
  };
  constexpr int64_t kU32 = 0xffffffffLL, kI32 = 0x7fffffffLL, kI64 = int64_t(1) << 53;
  st.adam_t = uint64_t(scalar("/adam/t", 0, kI64));
  st.epoch = uint32_t(scalar("/epoch", 0, kU32 - 1));
  st.batch = uint32_t(scalar("/batch", 0, kU32 - 1));
  st.best_metric = real("/best_metric");
  st.best_epoch = uint32_t(scalar("/best_epoch", 0, kU32));
  st.epochs_since_best = uint32_t(scalar("/epochs_since_best", 0, kU32));
  st.presentations_to_100 = int32_t(scalar("/presentations_to_100", -1, kI32));
  auto sums = f.read_doubles("/epoch_sums");
  require(sums.size() == 3, path, ": '/epoch_sums' must have 3 values");
  for (double x : sums) require(std::isfinite(x) && x >= 0, path, ": '/epoch_sums' holds ", x);
  st.epoch_loss = sums[0];
  st.epoch_correct = sums[1];
  st.epoch_samples = sums[2];
  st.epoch_spike_counts = f.read_doubles("/epoch_spike_counts");
  st.wall_time_s = real("/wall_time_s");
  st.samples_trained = uint64_t(scalar("/samples_trained", 0, kI64));
  return st;
}
}  // namespace

std::optional<TrainState> read_checkpoint(const std::string& dir, const Network& net, std::string* used_path) {
  std::string first_error;
  for (const char* name : {"/checkpoint.h5", "/checkpoint.prev.h5"}) {
    const std::string path = dir + name;
    if (!fs::exists(path)) continue;
    try {
      TrainState st = h5::read_untrusted(path, [&] { return load(path, net); });
      if (used_path) *used_path = path;
      return st;
    } catch (const Error& e) {
      if (first_error.empty()) first_error = e.what();
    }
  }
  if (!first_error.empty()) fail(first_error);
  return std::nullopt;
}

}  // namespace delayprop
