#pragma once
// A thin RAII layer over the HDF5 C API. Every failure throws Error naming the file and the
// dataset; HDF5's own error printing is silenced.
#include <hdf5.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace delayprop::h5 {

// Untrusted files. The readers check types, shapes and sizes against the file before they
// read (see h5.cpp), but libhdf5 itself follows the file's internal pointers (B-trees, the
// global heap of variable-length data) and can crash on a corrupt file before any check of
// ours can run. read_untrusted(path, read) therefore first runs read() in a forked child
// process with stdout/stderr silenced: if the child ends with an Error, that one-line
// message is thrown here; if it dies (a signal, a sanitizer report) or runs longer than
// DELAYPROP_H5_CHECK_TIMEOUT seconds (default 600), the error names the file as corrupt.
// Only when the child read the file cleanly is read() run in this process. Cost: the file
// is read twice and the process forks once per file. Nested calls run read() directly.
void check_in_child(const std::string& path, const std::function<void()>& read);
bool in_untrusted_read();
template <typename F>
auto read_untrusted(const std::string& path, F&& read) {
  if (!in_untrusted_read()) check_in_child(path, [&] { (void)read(); });
  return read();
}

// Before a variable-length dataset of `rows` rows is read: rejects a row count or a total of
// values (file element type file_base; mem_type the vlen memory type of mem_base) that the
// file cannot hold, naming path and dataset.
void check_vlen_sizes(const std::string& path, const std::string& name, hid_t dset, hid_t space, hid_t file_base,
                      hid_t mem_type, hid_t mem_base, uint64_t rows);

// Checks every row's length in the file's variable-length references against the
// global-heap object it points to (contiguous unfiltered datasets; see h5.cpp).
void check_vlen_references(const std::string& path, const std::string& name, hid_t dset, uint64_t rows, size_t fsz);

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
  hid_t release() {  // gives up ownership without closing
    const hid_t id = id_;
    id_ = -1;
    return id;
  }
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

  void flush();  // throws when the data cannot be written (disk full)
  // Closes now and throws when the final write-back fails; the destructor closes silently.
  void close();

 private:
  void write_raw(const std::string& name, hid_t mem_type, const void* data, const std::vector<uint64_t>& shape);
  Handle open_dataset(const std::string& name) const;
  Handle h_;
  std::string path_;
};

}  // namespace delayprop::h5
