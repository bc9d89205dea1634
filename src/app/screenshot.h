// Writing what the window shows to a PNG file.
#pragma once

#include <filesystem>

namespace utter::app {

// Reads the current OpenGL framebuffer (width x height pixels) and writes it as an RGB PNG.
// Throws std::runtime_error naming the file when it cannot be written.
void write_framebuffer_png(const std::filesystem::path& path, int width, int height);

}  // namespace utter::app
