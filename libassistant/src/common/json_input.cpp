#include "assistant/json_input.hpp"

#include <set>
#include <string>
#include <vector>

#include "common/json_text.hpp"
#include "common/text.hpp"

namespace assistant {

namespace {
// The parser's message quotes the last token it read, which may be long.
constexpr size_t kMaxDetail = 200;
}  // namespace

Result<Json> ParseJsonInput(std::string_view text) {
  if (JsonNestingDepth(text) > kMaxJsonInputDepth) {
    return MalformedError("the JSON body is nested too deeply (more than " +
                          std::to_string(kMaxJsonInputDepth) + " levels)");
  }
  if (!text::IsValidUtf8(text)) {
    return MalformedError("the body is not valid UTF-8");
  }
  std::string problem;
  std::vector<std::set<std::string>> keys;  // one set per open object
  Json::parser_callback_t note = [&](int, Json::parse_event_t event, Json& parsed) {
    if (!problem.empty()) return true;
    switch (event) {
      case Json::parse_event_t::object_start:
        keys.emplace_back();
        break;
      case Json::parse_event_t::object_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case Json::parse_event_t::key:
        if (!keys.empty() && !keys.back().insert(parsed.get<std::string>()).second) {
          problem = "the JSON body has the key \"" + parsed.get<std::string>() +
                    "\" more than once in one object";
        }
        break;
      default:
        break;
    }
    return true;
  };
  Json body = Json::parse(text.begin(), text.end(), note, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    // Again with exceptions, for the parser's own account of what is wrong
    // and where ("number overflow parsing '1e999'", "unexpected end of
    // input"), without its "[json.exception...]" prefix and capped.
    std::string detail;
    try {
      // It throws here; held in a variable because a (void) cast does not
      // silence GCC's warn_unused_result on nlohmann's parse.
      const Json unused = Json::parse(text.begin(), text.end());
      static_cast<void>(unused);
    } catch (const Json::exception& e) {  // parse_error, or out_of_range for 1e999
      detail = e.what();
      const size_t at = detail.find("] ");
      if (at != std::string::npos) detail.erase(0, at + 2);
      if (detail.size() > kMaxDetail) detail = detail.substr(0, kMaxDetail) + "...";
    }
    return MalformedError("the body is not valid JSON" + (detail.empty() ? "" : ": " + detail));
  }
  if (!problem.empty()) return MalformedError(problem);
  return body;
}

}  // namespace assistant
