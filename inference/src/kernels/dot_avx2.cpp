// AVX2 + FMA + F16C dot products (compiled with those flags; chosen at run time).
#define UTTER_DOT_VNNI 0
#include "kernels/dot.h"
#include "kernels/dot_x86_impl.h"

namespace utter::inference::kernels {

const DotTable& avx2_dot_table() {
  static const DotTable table = {dot_q4_0, dot_q4_1, dot_q5_0,    dot_q5_1,     dot_q8_0,   dot_q4_k,
                                 dot_q5_k, dot_q6_k, dot_f16_256, dot_bf16_256, dot_f32_256};
  return table;
}

}  // namespace utter::inference::kernels
