//===- Flags.cpp - Command-line flags declared with CLI11 -----------------===//

#include "gptc/Support/Flags.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <sstream>

namespace gptc {

namespace {

std::string number(double x) {
  std::ostringstream os;
  os << x;
  return os.str();
}

/// `text` with each line broken at spaces into lines of at most `width`.
std::string wrap(const std::string &text, size_t width) {
  std::string out;
  std::istringstream lines(text);
  for (std::string paragraph; std::getline(lines, paragraph);) {
    std::istringstream words(paragraph);
    std::string line;
    for (std::string w; words >> w;) {
      if (!line.empty() && line.size() + 1 + w.size() > width) {
        out += line + "\n";
        line.clear();
      }
      line += (line.empty() ? "" : " ") + w;
    }
    out += line + "\n";
  }
  if (!out.empty() && (text.empty() || text.back() != '\n'))
    out.pop_back();
  return out;
}

/// CLI11's formatter, with the description and each flag's help wrapped to
/// the customary 80 columns (CLI11 2.1 prints each on one line).
class WrappingFormatter : public CLI::Formatter {
public:
  std::string make_option_desc(const CLI::Option *opt) const override {
    return wrap(CLI::Formatter::make_option_desc(opt), 80 - get_column_width());
  }
  std::string make_description(const CLI::App *app) const override {
    return wrap(CLI::Formatter::make_description(app), 80);
  }
  std::string make_subcommand(const CLI::App *sub) const override {
    std::ostringstream out;
    CLI::detail::format_help(
        out, sub->get_name(),
        wrap(sub->get_description(), 80 - get_column_width()),
        get_column_width());
    return out.str();
  }
};

} // namespace

void wrapHelp(CLI::App &app, size_t nameColumn) {
  auto f = std::make_shared<WrappingFormatter>();
  f->column_width(nameColumn);
  app.formatter(f);
}

CLI::Validator integerIn(int64_t min, int64_t max) {
  std::string range =
      "an integer from " + std::to_string(min) + " to " + std::to_string(max);
  return CLI::Validator(
      [=](std::string &v) -> std::string {
        char *end = nullptr;
        errno = 0;
        long long x = std::strtoll(v.c_str(), &end, 10);
        bool digits =
            !v.empty() &&
            (std::isdigit(static_cast<unsigned char>(v[0])) || v[0] == '-');
        if (!digits || *end || errno == ERANGE || x < min || x > max)
          return "expects " + range + ", got '" + v + "'";
        return "";
      },
      "", "integerIn");
}

CLI::Validator numberIn(double min, double max, bool openMin, bool openMax) {
  std::string range = std::string(openMin ? "(" : "[") + number(min) + ", " +
                      (std::isinf(max) ? "inf" : number(max)) +
                      (openMax || std::isinf(max) ? ")" : "]");
  return CLI::Validator(
      [=](std::string &v) -> std::string {
        char *end = nullptr;
        double x = std::strtod(v.c_str(), &end);
        bool ok = !v.empty() && !*end && std::isfinite(x) &&
                  (openMin ? x > min : x >= min) &&
                  (openMax ? x < max : x <= max);
        if (!ok)
          return "expects a finite number in " + range + ", got '" + v + "'";
        return "";
      },
      "", "numberIn");
}

std::optional<int> parseFlags(CLI::App &app, int argc, char **argv) {
  try {
    app.parse(argc, argv);
    return std::nullopt;
  } catch (const CLI::CallForHelp &e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp &e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion &e) {
    return app.exit(e);
  } catch (const CLI::ParseError &e) {
    std::string what = e.what();
    // CLI11 names the program in some messages and not in others.
    std::string prefix = app.get_name() + ": ";
    if (what.rfind(prefix, 0) == 0)
      what = what.substr(prefix.size());
    // The help to read is the command's, when one was given.
    std::string help = app.get_name();
    for (const CLI::App *sub : app.get_subcommands())
      help += " " + sub->get_name();
    std::cerr << app.get_name() << ": error: " << what << "\nrun '" << help
              << " --help' for the options\n";
    return kExitUsage;
  }
}

} // namespace gptc
