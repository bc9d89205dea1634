// AVX2 + FMA + F16C dot products (compiled with those flags; chosen at run time).
#define UTTER_DOT_VNNI 0
#include "kernels/dot.h"
#include "kernels/dot_x86_impl.h"

namespace utter::inference::kernels {

const DotTable& avx2_dot_table() {
  static const DotTable table = [] {
    DotTable kernels;
    fill_integer_kernels(kernels);
    kernels.f16 = dot_f16_256;
    kernels.bf16 = dot_bf16_256;
    kernels.f32 = dot_f32_256;
    return kernels;
  }();
  return table;
}

}  // namespace utter::inference::kernels
