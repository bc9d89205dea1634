#include "app/extra_glyphs.h"

#include <GLFW/glfw3.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <system_error>

#define STB_TRUETYPE_IMPLEMENTATION
#define STBTT_STATIC
#include <imstb_truetype.h>

namespace utter::app {
namespace {

// Monochrome fonts with emoji and other symbols above U+FFFF that stb_truetype can read.
// fonts-symbola (Debian main, "free for any use") covers the emoji of Unicode 9. Colour
// emoji fonts such as fonts-noto-color-emoji store bitmaps (CBDT) that stb_truetype cannot read.
const char* const kSymbolFonts[] = {
    "/usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf",
    "/usr/share/fonts/truetype/ancient-scripts/Symbola.ttf",
};

// The glyph texture: RGBA, white with the glyph's coverage as alpha, tinted when drawn.
constexpr int kTextureSize = 1024;
constexpr std::uint32_t kSizingCodePoint = 0x1F600;  // GRINNING FACE sets the cell width

}  // namespace

struct ExtraGlyphs::SymbolFont {
  std::vector<unsigned char> bytes;
  stbtt_fontinfo info{};
};

ExtraGlyphs::ExtraGlyphs() = default;
ExtraGlyphs::~ExtraGlyphs() = default;

ExtraGlyphs& extra_glyphs() {
  static ExtraGlyphs instance;
  return instance;
}

bool drawn_as_extra_glyph(const ImFont* font, std::uint32_t code_point) {
  if (code_point > 0xFFFF || code_point == 0xFFFD) return true;
  return code_point >= 0x80 && font->FindGlyphNoFallback(static_cast<ImWchar>(code_point)) == nullptr;
}

std::filesystem::path ExtraGlyphs::load(float pixel_size) {
  cell_advance_ = std::round(pixel_size);
  for (const char* path : kSymbolFonts) {
    std::ifstream file(path, std::ios::binary);
    if (!file) continue;
    auto font = std::make_unique<SymbolFont>();
    font->bytes.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
    const int offset = stbtt_GetFontOffsetForIndex(font->bytes.data(), 0);
    if (offset < 0 || stbtt_InitFont(&font->info, font->bytes.data(), offset) == 0) continue;
    // ImGui sizes the text font by its ascent-to-descent height, which is 1.16 em for DejaVu
    // Sans (2384 of 2048 units). Symbola's extents are taller and would shrink its glyphs, so
    // both fonts get the same em instead.
    scale_ = stbtt_ScaleForMappingEmToPixels(&font->info, pixel_size * (2048.0f / 2384.0f));
    int advance = 0;
    int left_bearing = 0;
    if (stbtt_FindGlyphIndex(&font->info, static_cast<int>(kSizingCodePoint)) != 0) {
      stbtt_GetCodepointHMetrics(&font->info, static_cast<int>(kSizingCodePoint), &advance, &left_bearing);
      cell_advance_ = std::max(std::round(static_cast<float>(advance) * scale_), std::round(pixel_size * 0.5f));
    }
    font_ = std::move(font);
    return path;
  }
  return {};
}

bool ExtraGlyphs::ensure_texture() {
  if (texture_ != 0) return true;
  GLint previous = 0;
  glGetIntegerv(GL_TEXTURE_BINDING_2D, &previous);
  glGenTextures(1, &texture_);
  if (texture_ == 0) return false;
  glBindTexture(GL_TEXTURE_2D, texture_);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_LINEAR);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_LINEAR);
  const std::vector<unsigned char> clear(static_cast<std::size_t>(kTextureSize) * kTextureSize * 4, 0);
  glTexImage2D(GL_TEXTURE_2D, 0, GL_RGBA, kTextureSize, kTextureSize, 0, GL_RGBA, GL_UNSIGNED_BYTE, clear.data());
  glBindTexture(GL_TEXTURE_2D, static_cast<GLuint>(previous));
  return true;
}

const ExtraGlyphs::Glyph& ExtraGlyphs::glyph_for(std::uint32_t code_point) {
  if (const auto found = glyphs_.find(code_point); found != glyphs_.end()) return found->second;
  Glyph& glyph = glyphs_[code_point];
  if (!font_ || stbtt_FindGlyphIndex(&font_->info, static_cast<int>(code_point)) == 0) return glyph;

  const int character = static_cast<int>(code_point);
  int x0 = 0;
  int y0 = 0;
  int x1 = 0;
  int y1 = 0;
  stbtt_GetCodepointBitmapBox(&font_->info, character, scale_, scale_, &x0, &y0, &x1, &y1);
  int advance = 0;
  int left_bearing = 0;
  stbtt_GetCodepointHMetrics(&font_->info, character, &advance, &left_bearing);
  const int width = x1 - x0;
  const int height = y1 - y0;
  glyph.in_font = true;
  glyph.left = (cell_advance_ - static_cast<float>(advance) * scale_) * 0.5f + static_cast<float>(x0);
  glyph.top = static_cast<float>(y0);
  if (width <= 0 || height <= 0) return glyph;  // a blank glyph: nothing to draw

  if (shelf_x_ + width + 1 > kTextureSize) {
    shelf_y_ += shelf_height_ + 1;
    shelf_x_ = 0;
    shelf_height_ = 0;
  }
  // NOTE: once the texture is full, further new characters draw as boxes until restart. By
  // estimate it has room for about 3000 emoji at a 17 px font.
  if (texture_full_ || shelf_y_ + height > kTextureSize || width > kTextureSize || !ensure_texture()) {
    texture_full_ = true;
    glyph.in_font = false;
    return glyph;
  }

  std::vector<unsigned char> coverage(static_cast<std::size_t>(width) * height);
  stbtt_MakeCodepointBitmap(&font_->info, coverage.data(), width, height, width, scale_, scale_, character);
  std::vector<unsigned char> rgba(coverage.size() * 4);
  for (std::size_t i = 0; i < coverage.size(); ++i) {
    rgba[4 * i + 0] = 255;
    rgba[4 * i + 1] = 255;
    rgba[4 * i + 2] = 255;
    rgba[4 * i + 3] = coverage[i];
  }
  GLint previous = 0;
  glGetIntegerv(GL_TEXTURE_BINDING_2D, &previous);
  glBindTexture(GL_TEXTURE_2D, texture_);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
  glTexSubImage2D(GL_TEXTURE_2D, 0, shelf_x_, shelf_y_, width, height, GL_RGBA, GL_UNSIGNED_BYTE, rgba.data());
  glBindTexture(GL_TEXTURE_2D, static_cast<GLuint>(previous));

  const float size = static_cast<float>(kTextureSize);
  glyph.width = static_cast<float>(width);
  glyph.height = static_cast<float>(height);
  glyph.uv0 = ImVec2(static_cast<float>(shelf_x_) / size, static_cast<float>(shelf_y_) / size);
  glyph.uv1 = ImVec2(static_cast<float>(shelf_x_ + width) / size, static_cast<float>(shelf_y_ + height) / size);
  shelf_x_ += width + 1;
  shelf_height_ = std::max(shelf_height_, height);
  return glyph;
}

void ExtraGlyphs::draw(ImDrawList* draw_list, std::uint32_t code_point, float x, float text_top, float baseline,
                       ImU32 color) {
  const Glyph& glyph = glyph_for(code_point);
  if (!glyph.in_font) {
    // The usual sign of a missing glyph: a box the height of a capital letter.
    const float inset = cell_advance_ * 0.15f;
    draw_list->AddRect(ImVec2(x + inset, text_top + baseline * 0.2f), ImVec2(x + cell_advance_ - inset, text_top + baseline),
                       color);
    return;
  }
  if (glyph.width <= 0.0f) return;
  const ImVec2 top_left(std::round(x + glyph.left), std::round(text_top + baseline + glyph.top));
  draw_list->AddImage(reinterpret_cast<ImTextureID>(static_cast<std::intptr_t>(texture_)), top_left,
                      ImVec2(top_left.x + glyph.width, top_left.y + glyph.height), glyph.uv0, glyph.uv1, color);
}

void ExtraGlyphs::release() {
  if (texture_ != 0) glDeleteTextures(1, &texture_);
  texture_ = 0;
  glyphs_.clear();
  shelf_x_ = 0;
  shelf_y_ = 0;
  shelf_height_ = 0;
  texture_full_ = false;
}

}  // namespace utter::app
