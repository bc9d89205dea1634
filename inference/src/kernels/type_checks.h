// Argument checks shared by the quantisation and matrix-product entry points.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "utter/inference/tensor_type.h"

namespace utter::inference::kernels {

// Returns n / block_elements of `type`; throws std::invalid_argument naming `caller` when n
// is negative or not a whole number of blocks.
inline int64_t checked_block_count(TensorType type, int64_t n, const char* caller) {
  const auto& traits = tensor_type_traits(type);
  if (n < 0 || n % traits.block_elements != 0) {
    throw std::invalid_argument(std::string(caller) + ": " + std::to_string(n) +
                                " elements is not a whole number of " +
                                std::string(traits.name) + " blocks of " +
                                std::to_string(traits.block_elements));
  }
  return n / traits.block_elements;
}

}  // namespace utter::inference::kernels
