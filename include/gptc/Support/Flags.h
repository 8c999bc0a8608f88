//===- Flags.h - Command-line flags declared with CLI11 ---------*- C++ -*-===//
//
// gptc and the executables it builds declare each flag once, with CLI11:
// its name, help, value type and range. This header holds what both add:
// range validators with messages that say what was expected and what was
// given, and one parse entry point with one error format and exit code.
//
//===----------------------------------------------------------------------===//

#ifndef GPTC_SUPPORT_FLAGS_H
#define GPTC_SUPPORT_FLAGS_H

#include <CLI/CLI.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace gptc {

/// Exit status of a usage error: an unknown flag, a missing or malformed
/// value (1 is an error in the user's model, config or data).
constexpr int kExitUsage = 2;

/// Accepts a decimal integer from `min` to `max`.
CLI::Validator integerIn(int64_t min, int64_t max);

/// Accepts a finite number from `min` to `max`; `openMin`/`openMax` exclude
/// the bound itself.
CLI::Validator numberIn(double min, double max, bool openMin = false,
                        bool openMax = false);

/// Makes `app`'s help fit 80 columns: flag names in the first
/// `nameColumn` columns, their help wrapped in the rest.
void wrapHelp(CLI::App &app, size_t nameColumn);

/// Parses the command line with `app`. Returns the exit status when the
/// program should stop: 0 after printing the help, kExitUsage after
/// printing "PROG: error: WHAT" for a usage error. std::nullopt when the
/// flags are all valid. Exceptions other than CLI11's (a config file that
/// a flag's callback loads, say) propagate.
std::optional<int> parseFlags(CLI::App &app, int argc, char **argv);

} // namespace gptc

#endif // GPTC_SUPPORT_FLAGS_H
