#include "io/png_image.h"

#include <png.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "io/durable_file.h"

namespace dasnet {

namespace {

void write_png_stream(std::FILE* file, const std::string& path, size_t width, size_t height,
                      const std::vector<uint8_t>& rgb) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  if (!png || !info) {
    png_destroy_write_struct(&png, &info);
    throw std::runtime_error(path + ": libpng could not start");
  }
  if (setjmp(png_jmpbuf(png))) {  // libpng reports errors by longjmp
    png_destroy_write_struct(&png, &info);
    throw std::runtime_error(path + ": libpng failed while writing");
  }
  png_init_io(png, file);
  png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), 8, PNG_COLOR_TYPE_RGB,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (size_t y = 0; y < height; ++y)
    png_write_row(png, const_cast<png_bytep>(rgb.data() + y * width * 3));
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
}

}  // namespace

void write_rgb_png(const std::string& path, size_t width, size_t height, const std::vector<uint8_t>& rgb) {
  write_file_atomically(path, [&](const std::string& tmp) {
    std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(tmp.c_str(), "wb"), std::fclose);
    if (!file) throw std::runtime_error(path + ": cannot write the picture: " + std::strerror(errno));
    write_png_stream(file.get(), path, width, height, rgb);
    const bool flushed = std::fflush(file.get()) == 0 && !std::ferror(file.get());
    if (std::fclose(file.release()) != 0 || !flushed)
      throw std::runtime_error(path + ": cannot write the picture: " + std::strerror(errno));
  });
}

}  // namespace dasnet
