#include "io/checkpoint.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <iostream>
#include <map>
#include <sstream>
#include <type_traits>

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

// FNV-1a 64 over the element count and the bytes of the values.
uint64_t fnv(const void* p, size_t n, uint64_t h) {
  const auto* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  return h;
}
template <typename T>
uint64_t array_hash(const std::vector<T>& v) {
  const uint64_t n = v.size();
  return fnv(v.data(), v.size() * sizeof(T), fnv(&n, sizeof n, 1469598103934665603ull));
}
uint64_t string_hash(const std::string& s) {
  const uint64_t n = s.size();
  return fnv(s.data(), s.size(), fnv(&n, sizeof n, 1469598103934665603ull));
}
std::string hex(uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// Writes every array with its checksum; finish() stores the table as /checksums.
struct Writer {
  h5::File& f;
  std::ostringstream sums;
  void add(const std::string& name, uint64_t h) { sums << name << " " << hex(h) << "\n"; }
  void doubles(const std::string& name, const std::vector<double>& v) {
    f.write(name, v, {v.size()});
    add(name, array_hash(v));
  }
  void real(const std::string& name, double v) {
    f.write_scalar(name, v);
    add(name, array_hash(std::vector<double>{v}));
  }
  void integer(const std::string& name, int64_t v) {
    f.write_scalar(name, v);
    add(name, array_hash(std::vector<int64_t>{v}));
  }
  void string(const std::string& name, const std::string& s) {
    f.write_string(name, s);
    add(name, string_hash(s));
  }
  void finish() { f.write_string("/checksums", sums.str()); }
};

// Reads arrays and, in format 2, checks each against its checksum.
struct Reader {
  h5::File f;
  std::map<std::string, uint64_t> sums;
  bool verify = false;

  explicit Reader(const std::string& path) : f(h5::File::open_read(path)) {}
  const std::string& path() const { return f.path(); }
  void check(const std::string& name, uint64_t h) const {
    if (!verify) return;
    auto it = sums.find(name);
    require(it != sums.end(), path(), ": no checksum for '", name, "' (corrupted?)");
    require(it->second == h, path(), ": checksum mismatch in '", name, "': the file is corrupted");
  }
  std::vector<double> doubles(const std::string& name) const {
    auto v = f.read_doubles(name);
    check(name, array_hash(v));
    return v;
  }
  double real(const std::string& name) const {
    auto v = doubles(name);
    require(v.size() == 1, path(), ": '", name, "' must be a scalar");
    return v[0];
  }
  int64_t integer(const std::string& name) const {
    auto v = f.read_ints(name);
    require(v.size() == 1, path(), ": '", name, "' must be a scalar");
    check(name, array_hash(v));
    return v[0];
  }
  std::string string(const std::string& name) const {
    auto v = f.read_strings(name);
    require(v.size() == 1, path(), ": '", name, "' must be one string");
    check(name, string_hash(v[0]));
    return v[0];
  }
  void load_checksums() {
    verify = true;
    std::istringstream in(f.read_strings("/checksums").at(0));
    std::string name, h;
    while (in >> name >> h) {
      char* end = nullptr;
      const unsigned long long x = std::strtoull(h.c_str(), &end, 16);
      require(h.size() == 16 && end && *end == '\0', path(), ": '/checksums' is corrupted");
      sums[name] = x;
    }
  }
};

// The whole file is sealed too: HDF5's user block (the first 512 bytes, which HDF5 skips)
// holds a magic line and the FNV-1a 64 of every byte after it, checked before HDF5 parses
// anything (a flipped bit in HDF5's own metadata can otherwise crash the library).
constexpr uint64_t kUserblock = 512;
constexpr char kSealMagic[] = "delayprop file checksum (FNV-1a 64 of the bytes after the first 512): ";

}  // namespace

// HDF5's image of a file created with a user block leaves the block out: put it in front.
void seal_image(std::vector<unsigned char>& image) {
  image.insert(image.begin(), kUserblock, 0);
  const std::string line = kSealMagic + hex(fnv(image.data() + kUserblock, image.size() - kUserblock,
                                                1469598103934665603ull)) + "\n";
  std::memcpy(image.data(), line.data(), line.size());
}

// True when the file is sealed and intact; false when it has no seal (format 1); throws
// when the seal does not match.
bool check_seal(const std::string& path) {
  static_assert(kSealUserblock == kUserblock);
  std::ifstream in(path, std::ios::binary);
  require(bool(in), path, ": cannot open: ", std::strerror(errno));
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t m = sizeof kSealMagic - 1;
  if (bytes.size() < kUserblock || std::memcmp(bytes.data(), kSealMagic, m) != 0) return false;
  const std::string want(reinterpret_cast<const char*>(bytes.data()) + m, 16);
  const std::string got = hex(fnv(bytes.data() + kUserblock, bytes.size() - kUserblock, 1469598103934665603ull));
  require(want == got, path, ": file checksum mismatch: the file is corrupted (or truncated)");
  return true;
}

namespace {

void require_finite(const std::string& path, const char* name, const std::vector<double>& v) {
  for (size_t i = 0; i < v.size(); ++i)
    require(std::isfinite(v[i]), path, ": '", name, "' element ", i, " is ", v[i], " (not a finite number)");
}

}  // namespace

void write_file_durably(const std::string& path, const std::vector<unsigned char>& bytes, const char* what) {
  const std::string target = fault_path(what, path);  // tests: /dev/full
  const int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  require(fd >= 0, path, ": cannot create: ", std::strerror(errno));
  auto fail_io = [&](const char* op) {
    const int e = errno;
    ::close(fd);
    std::error_code ec;
    if (target == path) fs::remove(path, ec);
    fail(path, ": cannot ", op, " the ", what, ": ", std::strerror(e), " (the previous ", what, " is kept)");
  };
  size_t done = 0;
  const size_t half = bytes.size() / 2;
  while (done < bytes.size()) {
    const size_t chunk = done < half ? half - done : bytes.size() - done;
    const ssize_t w = ::write(fd, bytes.data() + done, chunk);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail_io("write");
    }
    done += size_t(w);
    if (done == half) kill_point(what);  // halfway through, before the rename
  }
  if (::fsync(fd) != 0 && target == path) fail_io("sync");
  if (::close(fd) != 0) {
    const int e = errno;
    std::error_code ec;
    fs::remove(path, ec);
    fail(path, ": cannot write the ", what, ": ", std::strerror(e), " (the previous ", what, " is kept)");
  }
}

namespace {

TrainState load(const std::string& path, const Network& net) {
  const bool sealed = check_seal(path);
  Reader r(path);
  const auto version = r.f.read_ints("/format_version");
  require(version.size() == 1 && (version[0] == 1 || version[0] == kCheckpointVersion), path,
          ": checkpoint format version ", version.empty() ? -1 : version[0], " is not supported (this program reads 1 and ",
          kCheckpointVersion, ")");
  if (version[0] >= 2) {  // format 1 had no checksums
    require(sealed, path, ": the file checksum (user block) is missing: the file is corrupted");
    r.load_checksums();
  }
  TrainState st;
  st.visit([&](const char* name, auto& field, auto... check) {
    using T = std::decay_t<decltype(field)>;
    if constexpr (std::is_same_v<T, std::vector<double>>) {
      field = r.doubles(name);
      if (((check == ArraySize::PerParam) || ...))
        require(field.size() == net.n_params, path, ": '", name, "' has ", field.size(), " values, the network ",
                net.n_params, " parameters (different network?)");
      require_finite(path, name, field);
    } else if constexpr (std::is_same_v<T, TrainState::EpochSums>) {
      const auto sums = r.doubles(name);
      require(sums.size() == 3, path, ": '", name, "' must have 3 values");
      require_finite(path, name, sums);
      for (double x : sums) require(!(x < 0), path, ": '", name, "' holds ", x);
      field = {sums[0], sums[1], sums[2]};
    } else if constexpr (std::is_same_v<T, double>) {
      field = r.real(name);
      require_finite(path, name, {field});
    } else {
      const IntRange range = (check, ...);
      const int64_t v = r.integer(name);
      require(v >= range.lo && v <= range.hi, path, ": '", name, "' = ", v, " is out of range [", range.lo, ", ",
              range.hi, "]");
      field = T(v);
    }
  });
  st.config_toml = r.string("/config");
  if (r.f.exists("/data_fingerprint")) st.data_fingerprint = r.string("/data_fingerprint");
  return st;
}
}  // namespace

void write_checkpoint(const std::string& dir, const Network& net, const TrainState& st, const std::string& config_toml,
                      int world_size, const std::string& data_fingerprint) {
  const std::string final_path = dir + "/checkpoint.h5";
  const std::string tmp = dir + "/checkpoint.h5.tmp";
  std::vector<unsigned char> image;
  {
    auto f = h5::File::create_in_memory(tmp, kUserblock);
    Writer w{f, {}};
    w.integer("/format_version", kCheckpointVersion);
    w.integer("/world_size", int64_t(world_size));
    w.string("/config", config_toml);
    write_params(net, st.params, f, "/params");  // for inspection; resume reads /params_flat
    st.visit([&](const char* name, const auto& field, auto...) {
      using T = std::decay_t<decltype(field)>;
      if constexpr (std::is_same_v<T, std::vector<double>>) w.doubles(name, field);
      else if constexpr (std::is_same_v<T, TrainState::EpochSums>)
        w.doubles(name, std::vector<double>{field.loss, field.correct, field.samples});
      else if constexpr (std::is_same_v<T, double>) w.real(name, field);
      else w.integer(name, int64_t(field));
    });
    const BuildInfo& b = build_info();
    w.string("/build/version", b.version);
    w.string("/build/git_commit", b.git_commit);
    w.string("/build/options", b.options);
    if (!data_fingerprint.empty()) w.string("/data_fingerprint", data_fingerprint);
    w.finish();
    image = f.image();
  }
  seal_image(image);
  write_file_durably(tmp, image, "checkpoint");
  // Read back from the disk, checksums and all, before it replaces the previous one.
  try {
    (void)load(tmp, net);
  } catch (const Error& e) {
    std::error_code ec;
    fs::remove(tmp, ec);
    fail("the checkpoint just written does not read back (the previous checkpoint is kept): ", e.what());
  }
  std::error_code ec;
  if (fs::exists(final_path)) {
    fs::rename(final_path, dir + "/checkpoint.prev.h5", ec);
    require(!ec, final_path, ": cannot keep the previous checkpoint as checkpoint.prev.h5: ", ec.message());
  }
  fs::rename(tmp, final_path, ec);
  require(!ec, final_path, ": cannot move the new checkpoint into place: ", ec.message());
  fsync_path(dir);
}

std::vector<double> read_checkpoint_array(const std::string& path, const std::string& name) {
  const bool sealed = check_seal(path);
  Reader r(path);
  const auto version = r.f.read_ints("/format_version");
  if (version.size() == 1 && version[0] >= 2) {
    require(sealed, path, ": the file checksum (user block) is missing: the file is corrupted");
    r.load_checksums();
  }
  return r.doubles(name);
}

std::optional<TrainState> read_checkpoint(const std::string& dir, const Network& net, std::string* used_path) {
  std::string errors;
  for (const char* name : {"/checkpoint.h5", "/checkpoint.prev.h5"}) {
    const std::string path = dir + name;
    if (!fs::exists(path)) continue;
    try {
      // A corrupt file can crash libhdf5 before any check runs: read it in a checking child first.
      TrainState st = h5::read_untrusted(path, [&] { return load(path, net); });
      if (used_path) *used_path = path;
      if (!errors.empty()) std::cerr << "warning: " << errors << "; resuming from " << path << " instead\n";
      return st;
    } catch (const Error& e) {
      errors += (errors.empty() ? "" : "; and ") + std::string(e.what());
    }
  }
  if (!errors.empty()) fail(errors);
  return std::nullopt;
}

}  // namespace delayprop
