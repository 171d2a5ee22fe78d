#include "io/data/events.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>

#include "core/error.hpp"
#include "io/h5.hpp"

namespace delayprop {

namespace {

// IEEE binary16 -> double (SHD/SSC store times as float16; HDF5 1.10 converts it in software,
// slowly, so the loader decodes it itself).
double half_to_double(uint16_t h) {
  const int sign = h >> 15, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  double v;
  if (exp == 0) v = std::ldexp(double(man), -24);                            // subnormal or zero
  else if (exp == 31) v = man ? std::numeric_limits<double>::quiet_NaN() : INFINITY;  // rejected later
  else v = std::ldexp(double(man | 0x400), exp - 25);
  return sign ? -v : v;
}

bool is_ieee_half_le(hid_t t) {
  if (H5Tget_class(t) != H5T_FLOAT || H5Tget_size(t) != 2 || H5Tget_order(t) != H5T_ORDER_LE) return false;
  size_t spos, epos, esize, mpos, msize;
  if (H5Tget_fields(t, &spos, &epos, &esize, &mpos, &msize) < 0) return false;
  return spos == 15 && epos == 10 && esize == 5 && mpos == 0 && msize == 10 && H5Tget_ebias(t) == 15;
}

// Reads a one-dimensional variable-length numeric dataset with a single H5Dread and calls
// fn(row, values as double) for every row. The rows are kept in the file's element type in
// memory (2 bytes per float16 event), not as one std::vector per row.
template <typename Fn>
size_t for_each_vlen_row(const h5::File& f, const std::string& name, Fn fn) {
  require(f.exists(name), f.path(), ": missing dataset '", name, "'");
  h5::Handle d(H5Dopen2(f.id(), name.c_str(), H5P_DEFAULT), H5Dclose);
  require(bool(d), f.path(), ": '", name, "' is not a readable dataset");
  h5::Handle t(H5Dget_type(d.get()), H5Tclose);
  require(H5Tget_class(t.get()) == H5T_VLEN, f.path(), ": dataset '", name, "' must be variable-length");
  h5::Handle base(H5Tget_super(t.get()), H5Tclose);
  const H5T_class_t bc = H5Tget_class(base.get());
  require(bc == H5T_INTEGER || bc == H5T_FLOAT, f.path(), ": dataset '", name, "' must hold numbers");
  h5::Handle s(H5Dget_space(d.get()), H5Sclose);
  require(H5Sget_simple_extent_ndims(s.get()) == 1, f.path(), ": dataset '", name, "' must be one-dimensional");
  hsize_t n = 0;
  H5Sget_simple_extent_dims(s.get(), &n, nullptr);
  const bool half = is_ieee_half_le(base.get());
  h5::Handle mem(H5Tvlen_create(half ? base.get() : H5T_NATIVE_DOUBLE), H5Tclose);
  h5::check_vlen_sizes(f.path(), name, d.get(), s.get(), base.get(), mem.get(), half ? base.get() : H5T_NATIVE_DOUBLE, n);
  std::vector<hvl_t> raw(n, hvl_t{0, nullptr});
  if (n > 0)
    require(H5Dread(d.get(), mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data()) >= 0, f.path(), ": cannot read '",
            name, "' (truncated or corrupted?)");
  struct Reclaim {
    hid_t mem, space;
    std::vector<hvl_t>& raw;
    ~Reclaim() {
      if (!raw.empty()) H5Dvlen_reclaim(mem, space, H5P_DEFAULT, raw.data());
    }
  } reclaim{mem.get(), s.get(), raw};
  std::vector<double> buf;
  for (size_t i = 0; i < n; ++i) {
    if (half) {
      const uint16_t* p = static_cast<const uint16_t*>(raw[i].p);
      buf.resize(raw[i].len);
      for (size_t e = 0; e < raw[i].len; ++e) buf[e] = half_to_double(p[e]);
      fn(i, std::span<const double>(buf));
    } else {
      fn(i, std::span<const double>(static_cast<const double*>(raw[i].p), raw[i].len));
    }
  }
  return n;
}

}  // namespace

namespace {
EventDataset read_events_file(const std::string& path, uint32_t n_channels, uint32_t n_classes, bool labels_optional) {
  auto f = h5::File::open_read(path);
  const bool unit_given = f.has_attr("time_unit");
  std::string unit = unit_given ? f.read_string_attr("time_unit") : "s";
  require(unit == "s" || unit == "ms", path, ": attribute time_unit must be \"s\" or \"ms\", got \"", unit, "\"");
  const double scale = unit == "s" ? 1000.0 : 1.0;
  std::vector<uint64_t> lshape;
  const bool has_labels = !labels_optional || f.exists("/labels");
  std::vector<int64_t> labels;
  if (has_labels) {
    labels = f.read_ints("/labels", &lshape);
    require(lshape.size() == 1, path, ": dataset '/labels' must be one-dimensional");
  } else {
    labels.assign(f.shape("/spikes/times").at(0), -1);
  }
  std::vector<int64_t> speakers;
  if (f.exists("/extra/speaker")) {
    std::vector<uint64_t> sshape;
    speakers = f.read_ints("/extra/speaker", &sshape);
    require(sshape.size() == 1 && speakers.size() == labels.size(), path, ": '/extra/speaker' has ", speakers.size(),
            " entries for ", labels.size(), " labels");
  }
  auto count_attr = [&](const char* attr) {
    const std::string v = f.read_string_attr(attr);
    require(!v.empty() && v.size() <= 9 && v.find_first_not_of("0123456789") == std::string::npos, path,
            ": attribute ", attr, " must be a count below 10^9, got \"", v.substr(0, 40), "\"");
    return uint32_t(std::stoul(v));
  };
  if (n_channels == 0 && f.has_attr("n_channels")) n_channels = count_attr("n_channels");
  if (n_classes == 0 && f.has_attr("n_classes")) n_classes = count_attr("n_classes");

  EventDataset d;
  d.source = path;
  d.time_unit = unit_given ? unit : "s (the default: the file has no time_unit attribute)";
  d.has_labels = has_labels;
  const size_t n = labels.size();
  d.samples.resize(n);
  // Times are converted to double before scaling: float16 seconds times 1000 may overflow.
  const size_t nt = for_each_vlen_row(f, "/spikes/times", [&](size_t s, std::span<const double> v) {
    if (s >= n) return;
    auto& out = d.samples[s].times_ms;
    out.resize(v.size());
    for (size_t e = 0; e < v.size(); ++e) {
      const double t = v[e] * scale;
      require(std::isfinite(t) && t >= 0, path, ": '/spikes/times' sample ", s, " event ", e, " has time ", v[e]);
      out[e] = t;
    }
  });
  require(nt == n, path, ": '/labels' has ", n, " entries for ", nt, " samples in '/spikes/times'");
  uint32_t max_unit = 0;
  const size_t nu = for_each_vlen_row(f, "/spikes/units", [&](size_t s, std::span<const double> v) {
    if (s >= n) return;
    require(v.size() == d.samples[s].times_ms.size(), path, ": sample ", s, " has ", d.samples[s].times_ms.size(),
            " times but ", v.size(), " units");
    auto& out = d.samples[s].units;
    out.resize(v.size());
    for (size_t e = 0; e < v.size(); ++e) {
      const double u = v[e];
      require(u >= 0 && u == std::floor(u) && u < 4e9, path, ": '/spikes/units' sample ", s, " event ", e,
              " is not a channel index (", u, ")");
      require(n_channels == 0 || u < n_channels, path, ": '/spikes/units' sample ", s, " event ", e, ": unit ", u,
              " is out of range [0, ", n_channels, ")");
      out[e] = uint32_t(u);
      if (out[e] > max_unit) max_unit = out[e];
    }
  });
  require(nu == n, path, ": '/spikes/units' has ", nu, " samples but '/spikes/times' has ", n);
  int64_t max_label = -1;
  for (size_t s = 0; s < n && has_labels; ++s) {
    require(labels[s] >= 0 && (n_classes == 0 || labels[s] < int64_t(n_classes)), path, ": '/labels' entry ", s,
            " is ", labels[s], ", out of range [0, ", n_classes, ")");
    require(labels[s] < (int64_t(1) << 30), path, ": '/labels' entry ", s, " is ", labels[s], ", out of range [0, 2^30)");
    d.samples[s].label = int32_t(labels[s]);
    if (labels[s] > max_label) max_label = labels[s];
    if (!speakers.empty()) {
      require(speakers[s] >= -1 && speakers[s] < (int64_t(1) << 30), path, ": '/extra/speaker' entry ", s, " is ",
              speakers[s], ", out of range [-1, 2^30)");
      d.samples[s].speaker = int32_t(speakers[s]);
    }
  }
  if (!has_labels)
    for (size_t s = 0; s < n; ++s) {
      d.samples[s].label = -1;
      if (!speakers.empty()) d.samples[s].speaker = int32_t(speakers[s]);
    }
  d.n_channels = n_channels ? n_channels : max_unit + 1;
  d.n_classes = n_classes ? n_classes : uint32_t(std::max<int64_t>(max_label + 1, 0));
  return d;
}
}  // namespace

EventDataset read_events(const std::string& path, uint32_t n_channels, uint32_t n_classes, bool labels_optional) {
  return h5::read_untrusted(path, [&] { return read_events_file(path, n_channels, n_classes, labels_optional); });
}

void write_events(const std::string& path, const EventDataset& data, const std::string& time_unit) {
  require(time_unit == "s" || time_unit == "ms", "write_events: time_unit must be s or ms");
  const double scale = time_unit == "s" ? 1e-3 : 1.0;
  auto f = h5::File::create(path);
  f.create_group("/spikes");
  const size_t n = data.samples.size();
  h5::Handle vt(H5Tvlen_create(H5T_NATIVE_DOUBLE), H5Tclose);
  h5::Handle vu(H5Tvlen_create(H5T_NATIVE_UINT32), H5Tclose);
  std::vector<std::vector<double>> times(n);
  std::vector<hvl_t> th(n), uh(n);
  for (size_t s = 0; s < n; ++s) {
    times[s] = data.samples[s].times_ms;
    for (auto& t : times[s]) t *= scale;
    th[s] = {times[s].size(), times[s].data()};
    uh[s] = {data.samples[s].units.size(), const_cast<uint32_t*>(data.samples[s].units.data())};
  }
  hsize_t dim = n;
  auto write_vlen = [&](const char* name, hid_t type, const void* buf) {
    h5::Handle sp(H5Screate_simple(1, &dim, nullptr), H5Sclose);
    h5::Handle d(H5Dcreate2(f.id(), name, type, sp.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
    require(bool(d) && H5Dwrite(d.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0, path, ": cannot write ", name);
  };
  write_vlen("/spikes/times", vt.get(), th.data());
  write_vlen("/spikes/units", vu.get(), uh.data());
  std::vector<int64_t> labels(n), speakers(n);
  bool has_speaker = false;
  for (size_t s = 0; s < n; ++s) {
    labels[s] = data.samples[s].label;
    speakers[s] = data.samples[s].speaker;
    has_speaker |= data.samples[s].speaker >= 0;
  }
  f.write("/labels", labels, {n});
  if (has_speaker) f.write("/extra/speaker", speakers, {n});
  f.write_string_attr("time_unit", time_unit);
  f.write_string_attr("n_channels", std::to_string(data.n_channels));
  f.write_string_attr("n_classes", std::to_string(data.n_classes));
}

}  // namespace delayprop
