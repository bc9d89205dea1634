// The editor's fonts: a Latin, Greek and Cyrillic text font with a CJK fallback merged in,
// both found at run time among the fonts installed by Debian packages. Characters above
// U+FFFF, such as emoji, are drawn by ExtraGlyphs.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace utter::app {

struct FontSetup {
  std::vector<std::filesystem::path> loaded;  // in merge order
  std::vector<std::string> warnings;          // fonts that were not found
};

// Adds the fonts to ImGui's atlas at size_pixels. Falls back to ImGui's built-in font (ASCII
// only) with a warning when no text font is installed.
FontSetup load_editor_fonts(float size_pixels);

}  // namespace utter::app
