// Writing 8-bit RGB pictures as PNG (libpng), for quick-looks and probability maps.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dasnet {

// rgb holds width * height * 3 bytes, row by row. Throws std::runtime_error naming the file.
void write_rgb_png(const std::string& path, size_t width, size_t height, const std::vector<uint8_t>& rgb);

}  // namespace dasnet
