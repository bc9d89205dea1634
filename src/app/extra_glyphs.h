// Characters that Dear ImGui's font atlas cannot hold. Debian builds Dear ImGui with 16-bit
// ImWchar, so every character above U+FFFF (most emoji among them) reaches the atlas as
// U+FFFD. The text view draws such characters, and those the atlas lacks, from a texture of
// its own, rasterized on first use with stb_truetype from a monochrome symbol font.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <imgui.h>

namespace utter::app {

class ExtraGlyphs {
 public:
  ExtraGlyphs();
  ~ExtraGlyphs();
  ExtraGlyphs(const ExtraGlyphs&) = delete;
  ExtraGlyphs& operator=(const ExtraGlyphs&) = delete;

  // Loads the first installed symbol font and sizes the cell for pixel_size. Returns the font's
  // path, or an empty path when none is installed (then every such character is a box).
  std::filesystem::path load(float pixel_size);
  // Width in pixels that each character drawn here takes in the text layout.
  float cell_advance() const { return cell_advance_; }
  // Draws code_point in the cell that starts at x on a line of text whose top is text_top.
  // The font's baseline is baseline below text_top. Call between NewFrame and Render.
  void draw(ImDrawList* draw_list, std::uint32_t code_point, float x, float text_top, float baseline, ImU32 color);
  // Deletes the texture; call while the OpenGL context is still current.
  void release();

 private:
  struct Glyph {
    bool in_font = false;  // false: drawn as a box
    ImVec2 uv0;
    ImVec2 uv1;
    float left = 0.0f;  // bitmap offset from the cell's start and from the baseline, in pixels
    float top = 0.0f;
    float width = 0.0f;
    float height = 0.0f;
  };

  const Glyph& glyph_for(std::uint32_t code_point);
  bool ensure_texture();

  struct SymbolFont;  // the font file and its stb_truetype state
  std::unique_ptr<SymbolFont> font_;
  float scale_ = 0.0f;
  float cell_advance_ = 0.0f;
  std::unordered_map<std::uint32_t, Glyph> glyphs_;

  unsigned int texture_ = 0;
  int shelf_x_ = 0;  // next free spot of the shelf packer
  int shelf_y_ = 0;
  int shelf_height_ = 0;
  bool texture_full_ = false;
};

// The instance shared by the font setup, the text view and the main loop.
ExtraGlyphs& extra_glyphs();

// True for a code point that the text view draws with ExtraGlyphs instead of font.
bool drawn_as_extra_glyph(const ImFont* font, std::uint32_t code_point);

}  // namespace utter::app
