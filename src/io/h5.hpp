#pragma once
// A thin RAII layer over the HDF5 C API. Every failure throws Error naming the file and the
// dataset; HDF5's own error printing is silenced.
#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace delayprop::h5 {

class Handle {
 public:
  Handle() = default;
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Handle(Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = -1; }
  Handle& operator=(Handle&& o) noexcept {
    reset();
    id_ = o.id_;
    close_ = o.close_;
    o.id_ = -1;
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }
  hid_t get() const { return id_; }
  explicit operator bool() const { return id_ >= 0; }
  void reset() {
    if (id_ >= 0 && close_) close_(id_);
    id_ = -1;
  }

 private:
  hid_t id_ = -1;
  herr_t (*close_)(hid_t) = nullptr;
};

class File {
 public:
  static File open_read(const std::string& path);
  static File create(const std::string& path);  // truncates
  // A file held in memory only (HDF5's core driver, no backing store); image() gives its
  // bytes, which the caller writes itself (checkpoints: own error handling, fsync, verify).
  // `userblock` bytes (0, or a power of 2 >= 512) at the start are left to the caller.
  static File create_in_memory(const std::string& name, uint64_t userblock = 0);
  std::vector<unsigned char> image();
  const std::string& path() const { return path_; }
  hid_t id() const { return h_.get(); }

  bool exists(const std::string& name) const;  // a dataset or group, nested names allowed
  void create_group(const std::string& name);   // creates parents too
  // Shape of a dataset (throws if absent).
  std::vector<uint64_t> shape(const std::string& name) const;

  // Numeric datasets of any integer or float type are converted on read.
  std::vector<double> read_doubles(const std::string& name, std::vector<uint64_t>* shape = nullptr) const;
  std::vector<int64_t> read_ints(const std::string& name, std::vector<uint64_t>* shape = nullptr) const;
  // A variable-length dataset: one array per row (e.g. SHD's spikes/times), converted.
  std::vector<std::vector<double>> read_vlen_doubles(const std::string& name) const;
  std::vector<std::string> read_strings(const std::string& name) const;
  std::string read_string_attr(const std::string& name) const;  // root attribute
  bool has_attr(const std::string& name) const;

  void write(const std::string& name, const std::vector<double>& v, const std::vector<uint64_t>& shape);
  void write(const std::string& name, const std::vector<float>& v, const std::vector<uint64_t>& shape);
  void write(const std::string& name, const std::vector<int64_t>& v, const std::vector<uint64_t>& shape);
  void write(const std::string& name, const std::vector<uint32_t>& v, const std::vector<uint64_t>& shape);
  void write(const std::string& name, const std::vector<int32_t>& v, const std::vector<uint64_t>& shape);
  void write(const std::string& name, const std::vector<uint8_t>& v, const std::vector<uint64_t>& shape);
  void write_scalar(const std::string& name, double v) { write(name, std::vector<double>{v}, {}); }
  void write_scalar(const std::string& name, int64_t v) { write(name, std::vector<int64_t>{v}, {}); }
  void write_string_attr(const std::string& name, const std::string& value);  // root attribute
  void write_string(const std::string& name, const std::string& value);       // scalar string dataset

  void flush();

 private:
  void write_raw(const std::string& name, hid_t mem_type, const void* data, const std::vector<uint64_t>& shape);
  Handle open_dataset(const std::string& name) const;
  Handle h_;
  std::string path_;
};

}  // namespace delayprop::h5
