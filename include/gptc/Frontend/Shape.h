//===- Shape.h - Tensor types of the front end -----------------*- C++ -*-===//
//
// The front end's tensor type: an element type and a shape of symbolic dims
// (gptc/IR/Dim.h, shared with the IR's shape rules).
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_FRONTEND_SHAPE_H
#define GPTC_FRONTEND_SHAPE_H

#include "gptc/Frontend/AST.h"
#include "gptc/IR/Dim.h"

#include <string>
#include <vector>

namespace gptc {

/// Element type and (possibly symbolic) shape of a tensor value.
struct TensorType {
  ast::ElemType elem = ast::ElemType::F32;
  std::vector<Dim> shape;

  size_t rank() const { return shape.size(); }
  bool operator==(const TensorType &o) const {
    return elem == o.elem && shape == o.shape;
  }
  /// `f32[B, T, 768]`.
  std::string str() const {
    return std::string(ast::spelling(elem)) + shapeStr(shape);
  }
  /// Product of all dims.
  Dim numElements() const { return gptc::numElements(shape); }
};

} // namespace gptc

#endif // GPTC_FRONTEND_SHAPE_H
