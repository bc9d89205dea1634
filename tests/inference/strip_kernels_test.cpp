// Weights stored as strips of 16 rows: packing restores every row byte for byte, and strip
// products at every kernel level match a double-precision product of the dequantized
// weights and the quantized activations.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>
#include <vector>

#include "kernels/activation_quantize.h"
#include "kernels/dot.h"
#include "kernels/matmul.h"
#include "kernels/quantize.h"
#include "kernels/strip_layout.h"
#include "thread_pool.h"
#include "utter/inference/tensor_type.h"

namespace utter::inference {
namespace {

using kernels::has_strip_layout;
using kernels::pack_strips;
using kernels::strip_bytes;
using kernels::unpack_strip_row;

struct KernelLevelGuard {
  ~KernelLevelGuard() { set_kernel_level(detected_kernel_level()); }
};

struct Matrix {
  TensorType type;
  int64_t rows;
  int64_t cols;
  size_t row_bytes;
  std::vector<std::byte> row_major;
  std::vector<std::byte> strips;
};

// Rows with a spread of magnitudes, so block scales differ from row to row and block to block.
Matrix make_matrix(TensorType type, int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> magnitude(0.05f, 3.0f);
  Matrix m{type, rows, cols, *tensor_row_bytes(type, static_cast<uint64_t>(cols)), {}, {}};
  m.row_major.resize(m.row_bytes * rows);
  std::vector<float> row(cols);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      row[c] = normal(rng) * magnitude(rng) + (type == TensorType::Q4_K ? 0.7f : 0.0f);
    }
    quantize_row(type, row.data(), m.row_major.data() + r * m.row_bytes, cols);
  }
  m.strips.resize(strip_bytes(type, cols) * (rows / kernels::kStripRows));
  pack_strips(type, m.row_major.data(), m.row_bytes, rows, cols, m.strips.data());
  return m;
}

WeightMatrix strip_view(const Matrix& m) {
  return {m.type, m.strips.data(), m.cols, m.rows, m.row_bytes, true};
}

// The product computed in double from the dequantized weights and the activations as the
// kernels see them (quantized to the dot type and expanded again), plus the sum of the
// magnitudes of the terms, which bounds the rounding error.
void reference_product(const Matrix& m, const std::vector<float>& x, int64_t tokens,
                       std::vector<double>& y, std::vector<double>& magnitude) {
  const TensorType dot_type = kernels::dot_type_for(m.type);
  std::vector<std::byte> quantized(*tensor_row_bytes(dot_type, static_cast<uint64_t>(m.cols)));
  std::vector<float> activations(m.cols), weights(m.cols);
  y.assign(tokens * m.rows, 0.0);
  magnitude.assign(tokens * m.rows, 0.0);
  for (int64_t t = 0; t < tokens; ++t) {
    kernels::quantize_activation_row(dot_type, x.data() + t * m.cols, quantized.data(), m.cols);
    dequantize_row(dot_type, quantized.data(), activations.data(), m.cols);
    for (int64_t r = 0; r < m.rows; ++r) {
      dequantize_row(m.type, m.row_major.data() + r * m.row_bytes, weights.data(), m.cols);
      double sum = 0.0, size = 0.0;
      for (int64_t c = 0; c < m.cols; ++c) {
        sum += static_cast<double>(weights[c]) * activations[c];
        size += std::fabs(static_cast<double>(weights[c]) * activations[c]);
      }
      y[t * m.rows + r] = sum;
      magnitude[t * m.rows + r] = size;
    }
  }
}

std::vector<KernelLevel> supported_levels() {
  std::vector<KernelLevel> levels = {KernelLevel::Scalar};
  if (detected_kernel_level() >= KernelLevel::Avx2) levels.push_back(KernelLevel::Avx2);
  if (detected_kernel_level() >= KernelLevel::Avx512) levels.push_back(KernelLevel::Avx512);
  return levels;
}

struct Shape {
  TensorType type;
  int64_t cols;
};

// Three strips each; 96 columns give the 32-column formats an unpaired last block.
const Shape kShapes[] = {{TensorType::Q4_0, 96},  {TensorType::Q4_0, 256},
                         {TensorType::Q8_0, 96},  {TensorType::Q8_0, 256},
                         {TensorType::Q4_K, 512}, {TensorType::Q6_K, 512}};

TEST(StripLayout, RestoresEveryRowByteForByte) {
  for (const Shape& shape : kShapes) {
    SCOPED_TRACE(tensor_type_name(shape.type));
    const Matrix m = make_matrix(shape.type, 48, shape.cols, 7);
    EXPECT_EQ(m.strips.size(), m.row_major.size());
    std::vector<std::byte> row(m.row_bytes);
    for (int64_t r = 0; r < m.rows; ++r) {
      unpack_strip_row(m.type, m.strips.data(), m.cols, r, row.data());
      ASSERT_EQ(std::memcmp(row.data(), m.row_major.data() + r * m.row_bytes, m.row_bytes), 0)
          << "row " << r;
    }
  }
}

TEST(StripLayout, ExistsOnlyForWholeStripsOfSupportedTypes) {
  EXPECT_TRUE(has_strip_layout(TensorType::Q4_0, 32, 64));
  EXPECT_FALSE(has_strip_layout(TensorType::Q4_0, 40, 64));
  EXPECT_FALSE(has_strip_layout(TensorType::Q4_K, 32, 128));
  EXPECT_FALSE(has_strip_layout(TensorType::Q5_K, 32, 256));
  EXPECT_FALSE(has_strip_layout(TensorType::F16, 32, 256));
  std::vector<std::byte> bytes(64 * 40);
  EXPECT_THROW(pack_strips(TensorType::Q4_0, bytes.data(), 36, 40, 64, bytes.data()),
               std::invalid_argument);
}

TEST(StripMatmul, MatchesDoublePrecisionAtEveryLevel) {
  KernelLevelGuard guard;
  ThreadPool pool(2);
  for (const Shape& shape : kShapes) {
    const Matrix m = make_matrix(shape.type, 48, shape.cols, 11);
    const WeightMatrix w = strip_view(m);
    for (int64_t tokens : {1, 3, 8, 13, 137}) {
      std::mt19937 rng(static_cast<uint32_t>(tokens));
      std::normal_distribution<float> normal(0.0f, 1.0f);
      std::vector<float> x(tokens * m.cols);
      for (float& value : x) value = normal(rng);
      std::vector<double> expected, magnitude;
      reference_product(m, x, tokens, expected, magnitude);
      for (KernelLevel level : supported_levels()) {
        set_kernel_level(level);
        for (ThreadPool* threads : {static_cast<ThreadPool*>(nullptr), &pool}) {
          SCOPED_TRACE(std::string(tensor_type_name(shape.type)) + " cols " +
                       std::to_string(shape.cols) + ", " + std::to_string(tokens) +
                       " tokens at " + kernel_level_name(level) +
                       (threads != nullptr ? ", 2 threads" : ", 1 thread"));
          std::vector<float> y(tokens * m.rows, -1e30f);
          matmul(w, x.data(), tokens, y.data(), threads);
          for (size_t i = 0; i < y.size(); ++i) {
            ASSERT_NEAR(y[i], expected[i], 1e-5 * magnitude[i] + 1e-6) << "output " << i;
          }
        }
      }
    }
  }
}

// One shared pass must give each matrix exactly what its own product gives, at every level,
// including matrices of different types, which fall back to separate products.
TEST(StripMatmul, SharedInputMatchesSeparateProducts) {
  KernelLevelGuard guard;
  ThreadPool pool(2);
  const Matrix q = make_matrix(TensorType::Q4_K, 64, 512, 21);
  const Matrix k = make_matrix(TensorType::Q4_K, 32, 512, 22);
  const Matrix v = make_matrix(TensorType::Q6_K, 32, 512, 23);
  std::mt19937 rng(4);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int64_t tokens : {1, 19}) {
    std::vector<float> x(tokens * 512);
    for (float& value : x) value = normal(rng);
    for (KernelLevel level : supported_levels()) {
      set_kernel_level(level);
      for (bool mixed : {false, true}) {
        SCOPED_TRACE(std::to_string(tokens) + " tokens at " + kernel_level_name(level) +
                     (mixed ? ", mixed types" : ""));
        const Matrix& third = mixed ? v : k;
        const WeightMatrix views[] = {strip_view(q), strip_view(k), strip_view(third)};
        std::vector<float> shared[3], separate[3];
        for (int i = 0; i < 3; ++i) {
          shared[i].assign(tokens * views[i].rows, -1.0f);
          separate[i].assign(tokens * views[i].rows, -2.0f);
          matmul(views[i], x.data(), tokens, separate[i].data(), &pool);
        }
        const WeightMatrix* matrices[] = {&views[0], &views[1], &views[2]};
        float* outputs[] = {shared[0].data(), shared[1].data(), shared[2].data()};
        matmul_shared_input(matrices, x.data(), tokens, outputs, &pool);
        for (int i = 0; i < 3; ++i) EXPECT_EQ(shared[i], separate[i]) << "matrix " << i;
      }
    }
  }
}

TEST(StripMatmul, RowLookupRestoresTheDequantizedRow) {
  const Matrix m = make_matrix(TensorType::Q6_K, 32, 256, 3);
  const WeightMatrix w = strip_view(m);
  std::vector<float> from_strips(m.cols), from_rows(m.cols);
  for (int64_t r : {0, 15, 16, 31}) {
    weight_row(w, r, from_strips.data());
    dequantize_row(m.type, m.row_major.data() + r * m.row_bytes, from_rows.data(), m.cols);
    EXPECT_EQ(from_strips, from_rows) << "row " << r;
  }
}

TEST(StripMatmul, RejectsAMatrixWithoutAStripLayout) {
  std::vector<std::byte> bytes(40 * 36);
  const WeightMatrix w{TensorType::Q4_0, bytes.data(), 64, 40, 36, true};
  std::vector<float> x(64), y(40);
  EXPECT_THROW(matmul(w, x.data(), 1, y.data(), nullptr), std::invalid_argument);
}

}  // namespace
}  // namespace utter::inference
