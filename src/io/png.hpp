#pragma once
// A minimal PNG writer (8-bit RGB, no compression: zlib stored blocks), for the figures of
// delayprop-eval; no image library needed.
#include <cstdint>
#include <string>
#include <vector>

namespace delayprop {

// rgb: height rows of width pixels, 3 bytes each, top row first.
void write_png(const std::string& path, uint32_t width, uint32_t height, const std::vector<uint8_t>& rgb);

// A simple RGB canvas.
struct Image {
  uint32_t width = 0, height = 0;
  std::vector<uint8_t> rgb;
  Image(uint32_t w, uint32_t h, uint8_t grey = 255) : width(w), height(h), rgb(size_t(w) * h * 3, grey) {}
  void set(uint32_t x, uint32_t y, uint8_t r, uint8_t g, uint8_t b) {
    if (x >= width || y >= height) return;
    uint8_t* p = &rgb[(size_t(y) * width + x) * 3];
    p[0] = r, p[1] = g, p[2] = b;
  }
  void fill(uint32_t x0, uint32_t y0, uint32_t w, uint32_t h, uint8_t r, uint8_t g, uint8_t b) {
    for (uint32_t y = y0; y < y0 + h; ++y)
      for (uint32_t x = x0; x < x0 + w; ++x) set(x, y, r, g, b);
  }
  void save(const std::string& path) const { write_png(path, width, height, rgb); }
};

}  // namespace delayprop
