#include "io/h5.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <thread>

#include "core/error.hpp"
#include "io/files.hpp"

namespace delayprop::h5 {
namespace {

struct Silence {
  Silence() {
    // No HDF5 shutdown at exit: a file whose close failed (disk full) stays half-open in the
    // library, and closing it again from the atexit handler crashes. Every file is closed
    // (and a failed close reported) where it is used; at exit the OS releases the rest.
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
};
const Silence silence_hdf5_errors;

int g_untrusted_depth = 0;  // > 0 inside check_in_child's child or a read it guards

uint64_t file_size(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? uint64_t(st.st_size) : 0;
}

// Bytes a dataset of n elements of `elem` bytes may hold in a file of file_bytes: raw data
// is at most the file (a filter, e.g. deflate, compresses at most ~1000:1).
bool fits_file(const std::string& path, hid_t dset, uint64_t n, uint64_t elem) {
  Handle plist(H5Dget_create_plist(dset), H5Pclose);
  const bool filtered = plist && H5Pget_nfilters(plist.get()) > 0;
  const uint64_t fb = file_size(path);
  const long double bound = (long double)fb * (filtered ? 1100.0L : 1.0L) + 4096.0L;
  return (long double)n * (long double)elem <= bound;
}

}  // namespace

bool in_untrusted_read() { return g_untrusted_depth > 0; }

void check_in_child(const std::string& path, const std::function<void()>& read) {
  require_regular_file(path, "HDF5 file");
  int fds[2];
  require(::pipe(fds) == 0, path, ": cannot check the file (pipe: ", std::strerror(errno), ")");
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    fail(path, ": cannot check the file (fork: ", std::strerror(errno), ")");
  }
  if (pid == 0) {  // the child: read, report, _exit (no atexit handlers, no MPI, no HDF5 shutdown)
    ::close(fds[0]);
    const int null = ::open("/dev/null", O_WRONLY);
    if (null >= 0) {
      ::dup2(null, 1);
      ::dup2(null, 2);
    }
    ++g_untrusted_depth;
    int code = 0;
    std::string msg;
    try {
      read();
    } catch (const std::exception& e) {
      msg = e.what();
      code = 3;
    } catch (...) {
      msg = path + ": unreadable (unknown exception)";
      code = 3;
    }
    if (code) {
      size_t off = 0;
      while (off < msg.size()) {
        const ssize_t w = ::write(fds[1], msg.data() + off, msg.size() - off);
        if (w <= 0) break;
        off += size_t(w);
      }
    }
    ::_exit(code);
  }
  ::close(fds[1]);
  double limit = 600;
  if (const char* e = std::getenv("DELAYPROP_H5_CHECK_TIMEOUT")) limit = std::atof(e) > 0 ? std::atof(e) : limit;
  std::string msg;
  int status = 0;
  bool timed_out = false;
  const auto t0 = std::chrono::steady_clock::now();
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  while (true) {
    char buf[4096];
    ssize_t r;
    while ((r = ::read(fds[0], buf, sizeof buf)) > 0) msg.append(buf, size_t(r));
    const pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) break;
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() > limit) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  char buf[4096];
  ssize_t r;
  while ((r = ::read(fds[0], buf, sizeof buf)) > 0) msg.append(buf, size_t(r));
  ::close(fds[0]);
  if (timed_out)
    fail(path, ": reading the file did not finish within ", limit,
         " s (corrupt HDF5 file? a larger DELAYPROP_H5_CHECK_TIMEOUT allows longer)");
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 3 && !msg.empty()) {
    for (char& c : msg)
      if (c == '\n' || c == '\r') c = ' ';
    throw Error(msg);
  }
  if (WIFSIGNALED(status))
    fail(path, ": corrupt HDF5 file: the HDF5 library crashed reading it (signal ", WTERMSIG(status),
         " in the checking subprocess)");
  fail(path, ": corrupt HDF5 file: the HDF5 library failed reading it (exit code ",
       WIFEXITED(status) ? WEXITSTATUS(status) : -1, " in the checking subprocess)");
}

File File::open_read(const std::string& path) {
  require_regular_file(path, "HDF5 file");
  File f;
  f.path_ = path;
  hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  require(id >= 0, path, ": not a readable HDF5 file (truncated or corrupted?)");
  f.h_ = Handle(id, H5Fclose);
  return f;
}

File File::create(const std::string& path) {
  File f;
  f.path_ = path;
  hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  require(id >= 0, path, ": cannot create HDF5 file");
  f.h_ = Handle(id, H5Fclose);
  return f;
}

bool File::exists(const std::string& name) const {
  // Check each prefix: H5Lexists fails on a missing intermediate group.
  size_t pos = 0;
  while (true) {
    pos = name.find('/', pos + 1);
    const std::string prefix = name.substr(0, pos);
    if (!prefix.empty() && prefix != "/" && H5Lexists(h_.get(), prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (pos == std::string::npos) return true;
  }
}

void File::create_group(const std::string& name) {
  size_t pos = 0;
  while (true) {
    pos = name.find('/', pos + 1);
    const std::string prefix = name.substr(0, pos);
    if (!prefix.empty() && prefix != "/" && H5Lexists(h_.get(), prefix.c_str(), H5P_DEFAULT) <= 0) {
      hid_t g = H5Gcreate2(h_.get(), prefix.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      require(g >= 0, path_, ": cannot create group '", prefix, "'");
      H5Gclose(g);
    }
    if (pos == std::string::npos) return;
  }
}

Handle File::open_dataset(const std::string& name) const {
  require(exists(name), path_, ": missing dataset '", name, "'");
  hid_t d = H5Dopen2(h_.get(), name.c_str(), H5P_DEFAULT);
  require(d >= 0, path_, ": '", name, "' is not a readable dataset");
  return Handle(d, H5Dclose);
}

std::vector<uint64_t> File::shape(const std::string& name) const {
  Handle d = open_dataset(name);
  Handle s(H5Dget_space(d.get()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(s.get());
  require(rank >= 0, path_, ": '", name, "': unreadable dataspace");
  require(rank <= 32, path_, ": '", name, "': unreadable dataspace (rank ", rank, ")");
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(s.get(), dims.data(), nullptr);
  return std::vector<uint64_t>(dims.begin(), dims.end());
}

namespace {
template <typename T>
std::vector<T> read_numeric(const File& f, const std::string& name, hid_t mem_type, std::vector<uint64_t>* shape_out) {
  const auto shape = f.shape(name);
  uint64_t n = 1;
  for (auto d : shape) {
    require(d == 0 || n <= (uint64_t(1) << 62) / d, f.path(), ": dataset '", name, "' has an impossible shape");
    n *= d;
  }
  hid_t d = H5Dopen2(f.id(), name.c_str(), H5P_DEFAULT);
  Handle dh(d, H5Dclose);
  Handle t(H5Dget_type(d), H5Tclose);
  const H5T_class_t cls = H5Tget_class(t.get());
  require(cls == H5T_INTEGER || cls == H5T_FLOAT, f.path(), ": dataset '", name,
          "' must be numeric (integer or float), found another type");
  const size_t elem = H5Tget_size(t.get());
  require(elem > 0 && elem <= 16, f.path(), ": dataset '", name, "' has an element size of ", elem, " bytes");
  require(fits_file(f.path(), d, n, elem), f.path(), ": dataset '", name, "' claims ", n,
          " elements, more than the file can hold (", file_size(f.path()), " bytes; corrupt?)");
  std::vector<T> out(n);
  if (n > 0)
    require(H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) >= 0, f.path(), ": cannot read '", name,
            "' (truncated or corrupted?)");
  if (shape_out) *shape_out = shape;
  return out;
}
}  // namespace

std::vector<double> File::read_doubles(const std::string& name, std::vector<uint64_t>* shape) const {
  return read_numeric<double>(*this, name, H5T_NATIVE_DOUBLE, shape);
}

std::vector<int64_t> File::read_ints(const std::string& name, std::vector<uint64_t>* shape) const {
  // Float data read as integers would silently truncate: read as double and check.
  auto v = read_numeric<double>(*this, name, H5T_NATIVE_DOUBLE, shape);
  std::vector<int64_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    require(v[i] == std::floor(v[i]) && std::fabs(v[i]) < 9e15, path_, ": dataset '", name, "' element ", i,
            " is not an integer (", v[i], ")");
    out[i] = int64_t(v[i]);
  }
  return out;
}

namespace {
// The file's own bytes at `at`, or false when they are not there.
bool pread_all(int fd, uint64_t at, void* buf, size_t n) {
  size_t done = 0;
  while (done < n) {
    const ssize_t r = ::pread(fd, static_cast<char*>(buf) + done, n - done, off_t(at + done));
    if (r <= 0) return false;
    done += size_t(r);
  }
  return true;
}
uint64_t le(const unsigned char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= uint64_t(p[i]) << (8 * i);
  return v;
}
}  // namespace

// libhdf5 trusts the length stored in a variable-length reference and copies that many
// elements out of the global-heap object it points to: a corrupt length reads past the
// object (a heap over-read inside H5HG_read). For the usual layout (contiguous, no filter,
// no user block) the references and the global-heap collections are parsed here from the
// file's bytes (HDF5 file format spec, "Global Heap" and "Variable-length Sequence") and every
// row's length checked against its heap object before libhdf5 reads anything. Other layouts
// rely on the checking child (read_untrusted).
void check_vlen_references(const std::string& path, const std::string& name, hid_t dset, uint64_t rows, size_t fsz) {
  Handle dcpl(H5Dget_create_plist(dset), H5Pclose);
  if (!dcpl || H5Pget_layout(dcpl.get()) != H5D_CONTIGUOUS || H5Pget_nfilters(dcpl.get()) != 0) return;
  const haddr_t raw = H5Dget_offset(dset);
  if (raw == HADDR_UNDEF) return;
  const hid_t file = H5Iget_file_id(dset);
  if (file < 0) return;
  Handle fh(file, H5Fclose);
  Handle fcpl(H5Fget_create_plist(file), H5Pclose);
  size_t so = 0, sl = 0;
  hsize_t ub = 0;
  if (!fcpl || H5Pget_sizes(fcpl.get(), &so, &sl) < 0 || H5Pget_userblock(fcpl.get(), &ub) < 0 || ub != 0) return;
  require(so >= 2 && so <= 8 && sl >= 2 && sl <= 8, path, ": unsupported offset/length sizes ", so, "/", sl);
  const int fd = ::open(path.c_str(), O_RDONLY);
  require(fd >= 0, path, ": cannot open: ", std::strerror(errno));
  struct Close {
    int fd;
    ~Close() { ::close(fd); }
  } close_fd{fd};
  const uint64_t fbytes = file_size(path);
  const size_t ref = 4 + so + 4;
  require(raw + rows * ref <= fbytes, path, ": dataset '", name, "': its ", rows,
          " variable-length references lie past the end of the file (corrupt?)");
  // Objects (index -> size) of every collection referenced, parsed once each.
  std::map<uint64_t, std::map<uint64_t, uint64_t>> collections;
  auto collection = [&](uint64_t addr) -> const std::map<uint64_t, uint64_t>& {
    auto it = collections.find(addr);
    if (it != collections.end()) return it->second;
    auto& objs = collections[addr];
    unsigned char head[16 + 8];
    require(addr + 8 + sl <= fbytes && pread_all(fd, addr, head, 8 + sl) && std::memcmp(head, "GCOL", 4) == 0, path,
            ": dataset '", name, "': a variable-length reference points to ", addr,
            ", not to a global heap (corrupt?)");
    const uint64_t csize = le(head + 8, sl);
    require(csize >= 8 + sl && addr + csize <= fbytes, path, ": dataset '", name, "': the global heap at ", addr,
            " claims ", csize, " bytes, past the end of the file (corrupt?)");
    std::vector<unsigned char> c(csize);
    require(pread_all(fd, addr, c.data(), csize), path, ": cannot read the global heap at ", addr);
    uint64_t at = 8 + sl;
    while (at + 8 + sl <= csize) {
      const uint64_t idx = le(&c[at], 2), osize = le(&c[at + 8], sl);
      if (idx == 0) break;  // free space: the rest of the collection
      const uint64_t padded = (osize + 7) / 8 * 8;
      require(padded >= osize && at + 8 + sl + padded <= csize, path, ": dataset '", name,
              "': global heap object ", idx, " at ", addr, " claims ", osize, " bytes, past its collection (corrupt?)");
      objs[idx] = osize;
      at += 8 + sl + padded;
    }
    return objs;
  };
  std::vector<unsigned char> refs(size_t(rows) * ref);
  require(pread_all(fd, raw, refs.data(), refs.size()), path, ": cannot read the references of '", name, "'");
  for (uint64_t r = 0; r < rows; ++r) {
    const unsigned char* p = &refs[size_t(r) * ref];
    const uint64_t len = le(p, 4), addr = le(p + 4, so), idx = le(p + 4 + so, 4);
    if (len == 0) continue;  // an empty row: nothing is read
    const auto& objs = collection(addr);
    const auto o = objs.find(idx);
    require(o != objs.end(), path, ": dataset '", name, "' row ", r, " refers to global heap object ", idx,
            " that does not exist (corrupt?)");
    require(len * fsz <= o->second, path, ": dataset '", name, "' row ", r, " claims ", len, " values (",
            len * fsz, " bytes) but its heap object holds ", o->second, " bytes (corrupt?)");
  }
}

void check_vlen_sizes(const std::string& path, const std::string& name, hid_t dset, hid_t space, hid_t file_base,
                      hid_t mem_type, hid_t mem_base, uint64_t rows) {
  // A row's reference takes 16 bytes in the file (length and global-heap id), ~1000 times
  // less at most when compressed.
  require(fits_file(path, dset, rows, 16), path, ": dataset '", name, "' claims ", rows,
          " rows, more than the file can hold (", file_size(path), " bytes; corrupt?)");
  if (rows == 0) return;
  const size_t msz = H5Tget_size(mem_base), fsz = H5Tget_size(file_base);
  require(msz > 0 && fsz > 0 && fsz <= 16, path, ": dataset '", name, "' has an element size of ", fsz, " bytes");
  check_vlen_references(path, name, dset, rows, fsz);
  // The values themselves live in the file's global heap, never compressed: their total in
  // the file's element size cannot exceed the file.
  hsize_t bytes = 0;
  require(H5Dvlen_get_buf_size(dset, mem_type, space, &bytes) >= 0, path, ": cannot read '", name,
          "' (corrupt variable-length data)");

  const long double values = (long double)bytes / (long double)msz;
  require(values * (long double)fsz <= (long double)file_size(path) + 4096.0L, path, ": dataset '", name,
          "' claims ", (unsigned long long)values, " values, more than the file can hold (", file_size(path),
          " bytes; corrupt?)");
}

std::vector<std::vector<double>> File::read_vlen_doubles(const std::string& name) const {
  Handle d = open_dataset(name);
  Handle t(H5Dget_type(d.get()), H5Tclose);
  require(H5Tget_class(t.get()) == H5T_VLEN, path_, ": dataset '", name, "' must be variable-length");
  Handle base(H5Tget_super(t.get()), H5Tclose);
  const H5T_class_t bc = H5Tget_class(base.get());
  require(bc == H5T_INTEGER || bc == H5T_FLOAT, path_, ": dataset '", name, "' must hold numbers");
  Handle s(H5Dget_space(d.get()), H5Sclose);
  require(H5Sget_simple_extent_ndims(s.get()) == 1, path_, ": dataset '", name, "' must be one-dimensional");
  hsize_t n = 0;
  H5Sget_simple_extent_dims(s.get(), &n, nullptr);
  Handle mem(H5Tvlen_create(H5T_NATIVE_DOUBLE), H5Tclose);
  check_vlen_sizes(path_, name, d.get(), s.get(), base.get(), mem.get(), H5T_NATIVE_DOUBLE, n);
  std::vector<hvl_t> raw(n);
  if (n > 0)
    require(H5Dread(d.get(), mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data()) >= 0, path_, ": cannot read '",
            name, "' (truncated or corrupted?)");
  std::vector<std::vector<double>> out(n);
  for (size_t i = 0; i < n; ++i) {
    const double* p = static_cast<const double*>(raw[i].p);
    out[i].assign(p, p + raw[i].len);
  }
  if (n > 0) H5Dvlen_reclaim(mem.get(), s.get(), H5P_DEFAULT, raw.data());
  return out;
}

std::vector<std::string> File::read_strings(const std::string& name) const {
  Handle d = open_dataset(name);
  Handle t(H5Dget_type(d.get()), H5Tclose);
  require(H5Tget_class(t.get()) == H5T_STRING, path_, ": dataset '", name, "' must hold strings");
  Handle s(H5Dget_space(d.get()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(s.get());
  hsize_t n = 1;
  if (rank == 1) H5Sget_simple_extent_dims(s.get(), &n, nullptr);
  require(rank >= 0 && rank <= 1, path_, ": dataset '", name, "' must be a scalar or one-dimensional");
  require(fits_file(path_, d.get(), n, 16), path_, ": dataset '", name, "' claims ", n, " strings (corrupt?)");
  std::vector<std::string> out(n);
  if (H5Tis_variable_str(t.get()) > 0) {
    Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(t.get()));  // h5py writes UTF-8; ASCII <-> UTF-8 does not convert
    std::vector<char*> raw(n, nullptr);
    require(H5Dread(d.get(), mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data()) >= 0, path_, ": cannot read '", name, "'");
    for (size_t i = 0; i < n; ++i) out[i] = raw[i] ? raw[i] : "";
    H5Dvlen_reclaim(mem.get(), s.get(), H5P_DEFAULT, raw.data());
  } else {
    const size_t len = H5Tget_size(t.get());
    std::vector<char> raw(n * len);
    Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), len);
    H5Tset_cset(mem.get(), H5Tget_cset(t.get()));
    require(H5Dread(d.get(), mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data()) >= 0, path_, ": cannot read '", name, "'");
    for (size_t i = 0; i < n; ++i) out[i] = std::string(raw.data() + i * len, strnlen(raw.data() + i * len, len));
  }
  return out;
}

bool File::has_attr(const std::string& name) const { return H5Aexists(h_.get(), name.c_str()) > 0; }

std::string File::read_string_attr(const std::string& name) const {
  require(has_attr(name), path_, ": missing attribute '", name, "'");
  Handle a(H5Aopen(h_.get(), name.c_str(), H5P_DEFAULT), H5Aclose);
  Handle t(H5Aget_type(a.get()), H5Tclose);
  require(H5Tget_class(t.get()) == H5T_STRING, path_, ": attribute '", name, "' must be a string");
  {
    Handle sp(H5Aget_space(a.get()), H5Sclose);
    require(bool(sp) && H5Sget_simple_extent_npoints(sp.get()) == 1, path_, ": attribute '", name,
            "' must be a single string");
  }
  if (H5Tis_variable_str(t.get()) > 0) {
    char* raw = nullptr;
    Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(t.get()));  // h5py writes UTF-8; ASCII <-> UTF-8 does not convert
    require(H5Aread(a.get(), mem.get(), &raw) >= 0, path_, ": cannot read attribute '", name, "'");
    std::string s = raw ? raw : "";
    H5free_memory(raw);
    return s;
  }
  const size_t len = H5Tget_size(t.get());
  require(len > 0 && len <= file_size(path_), path_, ": attribute '", name, "' claims ", len,
          " bytes, more than the file holds (corrupt?)");
  std::string s(len, '\0');
  require(H5Aread(a.get(), t.get(), s.data()) >= 0, path_, ": cannot read attribute '", name, "'");
  s.resize(strnlen(s.data(), len));
  return s;
}

void File::write_raw(const std::string& name, hid_t mem_type, const void* data, const std::vector<uint64_t>& shape) {
  const auto slash = name.rfind('/');
  if (slash != std::string::npos && slash > 0) create_group(name.substr(0, slash));
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  Handle s(shape.empty() ? H5Screate(H5S_SCALAR) : H5Screate_simple(int(dims.size()), dims.data(), nullptr), H5Sclose);
  Handle d(H5Dcreate2(h_.get(), name.c_str(), mem_type, s.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
  require(bool(d), path_, ": cannot create dataset '", name, "' (disk full?)");
  uint64_t n = 1;
  for (auto x : shape) n *= x;
  if (n > 0)
    require(H5Dwrite(d.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0, path_, ": cannot write '", name,
            "' (disk full?)");
  const hid_t id = d.release();  // closed here so that a failed write-back is seen
  require(H5Dclose(id) >= 0, path_, ": cannot write '", name, "' (disk full?)");
}

void File::write(const std::string& n, const std::vector<double>& v, const std::vector<uint64_t>& s) { write_raw(n, H5T_NATIVE_DOUBLE, v.data(), s); }
void File::write(const std::string& n, const std::vector<float>& v, const std::vector<uint64_t>& s) { write_raw(n, H5T_NATIVE_FLOAT, v.data(), s); }
void File::write(const std::string& n, const std::vector<int64_t>& v, const std::vector<uint64_t>& s) { write_raw(n, H5T_NATIVE_INT64, v.data(), s); }
void File::write(const std::string& n, const std::vector<uint32_t>& v, const std::vector<uint64_t>& s) { write_raw(n, H5T_NATIVE_UINT32, v.data(), s); }
void File::write(const std::string& n, const std::vector<int32_t>& v, const std::vector<uint64_t>& s) { write_raw(n, H5T_NATIVE_INT32, v.data(), s); }
void File::write(const std::string& n, const std::vector<uint8_t>& v, const std::vector<uint64_t>& s) { write_raw(n, H5T_NATIVE_UINT8, v.data(), s); }

void File::write_string_attr(const std::string& name, const std::string& value) {
  Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(t.get(), H5T_VARIABLE);
  Handle s(H5Screate(H5S_SCALAR), H5Sclose);
  if (has_attr(name)) H5Adelete(h_.get(), name.c_str());
  Handle a(H5Acreate2(h_.get(), name.c_str(), t.get(), s.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  const char* p = value.c_str();
  require(bool(a) && H5Awrite(a.get(), t.get(), &p) >= 0, path_, ": cannot write attribute '", name, "'");
}

void File::write_string(const std::string& name, const std::string& value) {
  const auto slash = name.rfind('/');
  if (slash != std::string::npos && slash > 0) create_group(name.substr(0, slash));
  Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(t.get(), H5T_VARIABLE);
  Handle s(H5Screate(H5S_SCALAR), H5Sclose);
  Handle d(H5Dcreate2(h_.get(), name.c_str(), t.get(), s.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
  const char* p = value.c_str();
  require(bool(d) && H5Dwrite(d.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, &p) >= 0, path_, ": cannot write '", name, "'");
}

void File::flush() {
  require(H5Fflush(h_.get(), H5F_SCOPE_GLOBAL) >= 0, path_, ": cannot write the file (disk full?)");
}

void File::close() {
  if (!h_) return;
  const hid_t id = h_.release();
  require(H5Fclose(id) >= 0, path_, ": cannot write the file (disk full?)");
}

File File::create_in_memory(const std::string& name, uint64_t userblock) {
  File f;
  f.path_ = name;
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  require(bool(fapl) && H5Pset_fapl_core(fapl.get(), 1 << 20, 0) >= 0, name, ": cannot set up an in-memory HDF5 file");
  Handle fcpl(H5Pcreate(H5P_FILE_CREATE), H5Pclose);
  require(bool(fcpl) && (userblock == 0 || H5Pset_userblock(fcpl.get(), userblock) >= 0), name,
          ": cannot set a user block of ", userblock, " bytes");
  hid_t id = H5Fcreate(name.c_str(), H5F_ACC_TRUNC, fcpl.get(), fapl.get());
  require(id >= 0, name, ": cannot create an in-memory HDF5 file");
  f.h_ = Handle(id, H5Fclose);
  return f;
}

std::vector<unsigned char> File::image() {
  require(H5Fflush(h_.get(), H5F_SCOPE_GLOBAL) >= 0, path_, ": cannot flush the in-memory file");
  const ssize_t n = H5Fget_file_image(h_.get(), nullptr, 0);
  require(n > 0, path_, ": cannot get the file image");
  std::vector<unsigned char> buf(static_cast<size_t>(n));
  require(H5Fget_file_image(h_.get(), buf.data(), buf.size()) == n, path_, ": cannot get the file image");
  return buf;
}

}  // namespace delayprop::h5
