//===- Json.cpp - JSON read and written with nlohmann-json ----------------===//

#include "gptc/Support/Json.h"
#include "gptc/Support/Error.h"

namespace gptc {

Json parseJson(std::string_view text, const std::string &file,
               Json::parser_callback_t callback) {
  try {
    return Json::parse(text.begin(), text.end(), std::move(callback));
  } catch (const Json::parse_error &e) {
    // what() is "[json.exception.parse_error.101] parse error at line 1,
    // column 5: ..."; users need the part after the library's tag.
    std::string why = e.what();
    size_t tag = why.find("] ");
    if (tag != std::string::npos)
      why = why.substr(tag + 2);
    throw RuntimeError(file + ": invalid JSON: " + why);
  } catch (const Json::exception &e) {
    throw RuntimeError(file + ": invalid JSON: " + std::string(e.what()));
  }
}

} // namespace gptc
