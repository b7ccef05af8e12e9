// ParseJsonInput: what a client sends is refused, with the problem named,
// where a plain parse would quietly pick a value.
#include <doctest/doctest.h>

#include <string>

#include "assistant/json_input.hpp"

using namespace assistant;

namespace {

std::string Refusal(const std::string& text) {
  Result<Json> r = ParseJsonInput(text);
  if (r.ok()) return "";
  CHECK(r.status().reason() == "malformed_request");
  return r.status().message();
}

}  // namespace

TEST_CASE("json input: well-formed documents parse as a plain parse would") {
  for (const std::string text :
       {R"({"a":1,"b":[1,2,{"a":2}],"c":{"a":3}})", R"([{"k":1},{"k":2}])", "1e308",
        R"({"s":"Zoë 🛂"})", "18446744073709551615", "-9223372036854775808"}) {
    CAPTURE(text);
    Result<Json> r = ParseJsonInput(text);
    REQUIRE(r.ok());
    CHECK(*r == Json::parse(text));
  }
  // The same key in different objects is no duplicate.
  CHECK(ParseJsonInput(R"({"a":{"x":1},"b":{"x":2}})").ok());
  std::string deepest = std::string(kMaxJsonInputDepth, '[') + std::string(kMaxJsonInputDepth, ']');
  CHECK(ParseJsonInput(deepest).ok());
}

TEST_CASE("json input: each hostile input gets a message naming it") {
  CHECK(Refusal(std::string(kMaxJsonInputDepth + 1, '[') +
                std::string(kMaxJsonInputDepth + 1, ']'))
            .find("nested too deeply") != std::string::npos);
  CHECK(Refusal(R"({"title":"a","title":"b"})").find("key \"title\" more than once") !=
        std::string::npos);
  CHECK(Refusal(R"({"o":{"k":1,"k":1}})").find("key \"k\"") != std::string::npos);
  CHECK(Refusal(R"({"n":1e999})").find("number overflow") != std::string::npos);
  CHECK(Refusal(R"([-1e400])").find("number overflow") != std::string::npos);
  CHECK(Refusal("{\"s\":\"\xc3\x28\"}").find("not valid UTF-8") != std::string::npos);
  CHECK(Refusal("{\"s\":\"\xc0\xaf\"}").find("not valid UTF-8") != std::string::npos);  // overlong
  CHECK(Refusal(R"({"a":)").find("not valid JSON") != std::string::npos);
}
