//===- Error.h - Errors in run-time input -----------------------*- C++ -*-===//

#ifndef GPTC_SUPPORT_ERROR_H
#define GPTC_SUPPORT_ERROR_H

#include <stdexcept>

namespace gptc {

/// An error in run-time input (weights, data, flags, sizes): a complete
/// message for the user, caught and printed by the tools (exit status 1).
class RuntimeError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

} // namespace gptc

#endif // GPTC_SUPPORT_ERROR_H
