#include "io/h5.hpp"

#include <cmath>
#include <cstring>
#include <filesystem>

#include "core/error.hpp"

namespace delayprop::h5 {
namespace {

struct Silence {
  Silence() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }
};
const Silence silence_hdf5_errors;

}  // namespace

File File::open_read(const std::string& path) {
  require(std::filesystem::exists(path), path, ": no such file");
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
  std::vector<hsize_t> dims(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(s.get(), dims.data(), nullptr);
  return std::vector<uint64_t>(dims.begin(), dims.end());
}

namespace {
template <typename T>
std::vector<T> read_numeric(const File& f, const std::string& name, hid_t mem_type, std::vector<uint64_t>* shape_out) {
  const auto shape = f.shape(name);
  uint64_t n = 1;
  for (auto d : shape) n *= d;
  hid_t d = H5Dopen2(f.id(), name.c_str(), H5P_DEFAULT);
  Handle dh(d, H5Dclose);
  Handle t(H5Dget_type(d), H5Tclose);
  const H5T_class_t cls = H5Tget_class(t.get());
  require(cls == H5T_INTEGER || cls == H5T_FLOAT, f.path(), ": dataset '", name,
          "' must be numeric (integer or float), found another type");
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
  require(bool(d), path_, ": cannot create dataset '", name, "'");
  uint64_t n = 1;
  for (auto x : shape) n *= x;
  if (n > 0)
    require(H5Dwrite(d.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0, path_, ": cannot write '", name, "'");
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

void File::flush() { H5Fflush(h_.get(), H5F_SCOPE_GLOBAL); }

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
