// Encodings report.html needs to stay one self-contained file: HTML escaping, base64, and PNG
// images (via stb_image_write into memory) that go into data: URIs.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include <fmt/format.h>
#include <stb/stb_image_write.h>

#include "keel/error.h"
#include "report_parts.h"

namespace keel::train::report_detail {

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (uint32_t(uint8_t(bytes[i])) << 16) | (uint32_t(uint8_t(bytes[i + 1])) << 8) |
                 uint32_t(uint8_t(bytes[i + 2]));
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t v = uint32_t(uint8_t(bytes[i])) << 16;
    if (rest == 2) v |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

namespace {

void append_bytes(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data),
                                             static_cast<size_t>(size));
}

}  // namespace

std::string encode_png(const TopLossImage& image, int target_pixels) {
  const int c = image.channels, h = image.height, w = image.width;
  if ((c != 1 && c != 3) || h <= 0 || w <= 0 ||
      image.pixels.size() != static_cast<size_t>(c) * h * w) {
    throw Error(ErrorKind::runtime,
                fmt::format("internal error: top-loss image of row {} has {} values for shape "
                            "({}, {}, {}); expected 1 or 3 channels and C*H*W values",
                            image.row, image.pixels.size(), c, h, w));
  }
  // An integer factor keeps every feature a square of equal size; browsers would blur a
  // fractional one.
  const int scale = std::max(1, target_pixels / std::max(h, w));
  const int out_h = h * scale, out_w = w * scale;
  std::vector<uint8_t> hwc(static_cast<size_t>(out_h) * out_w * c);
  for (int y = 0; y < out_h; ++y) {
    for (int x = 0; x < out_w; ++x) {
      for (int ch = 0; ch < c; ++ch) {
        float v = image.pixels[(static_cast<size_t>(ch) * h + y / scale) * w + x / scale];
        if (!std::isfinite(v)) v = 0.0f;
        v = std::clamp(v, 0.0f, 1.0f);
        hwc[(static_cast<size_t>(y) * out_w + x) * c + ch] =
            static_cast<uint8_t>(std::lround(v * 255.0f));
      }
    }
  }
  std::string png;
  if (stbi_write_png_to_func(append_bytes, &png, out_w, out_h, c, hwc.data(), out_w * c) == 0) {
    throw Error(ErrorKind::runtime,
                fmt::format("could not encode the top-loss image of row {} as PNG", image.row));
  }
  return png;
}

}  // namespace keel::train::report_detail
