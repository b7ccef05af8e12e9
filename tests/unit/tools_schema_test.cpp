#include <doctest/doctest.h>

#include <stdexcept>

#include "assistant/tools.hpp"

using namespace assistant;

namespace {

Json TaskSchema() {
  return Json::parse(R"({
    "type": "object",
    "properties": {
      "title": {"type": "string", "minLength": 1, "maxLength": 5},
      "status": {"type": "string", "enum": ["all", "pending", "completed"]},
      "count": {"type": "integer", "minimum": 1, "maximum": 10},
      "tags": {"type": "array", "items": {"type": "string"}},
      "meta": {"type": "object", "properties": {"n": {"type": "number"}}, "required": ["n"]}
    },
    "required": ["title"],
    "additionalProperties": false
  })");
}

}  // namespace

TEST_SUITE("tools") {

TEST_CASE("ValidateJsonSchema accepts conforming arguments") {
  CHECK(ValidateJsonSchema(TaskSchema(), {{"title", "milk"}}).ok());
  CHECK(ValidateJsonSchema(TaskSchema(), Json::parse(R"({"title":"abc","status":"pending",
      "count":3,"tags":["a","b"],"meta":{"n":1.5}})")).ok());
  CHECK(ValidateJsonSchema(TaskSchema(), {{"title", "milk"}, {"count", 3.0}}).ok());
  // Lengths are characters: five é are five, not ten.
  CHECK(ValidateJsonSchema(TaskSchema(), {{"title", "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"}}).ok());
}

TEST_CASE("ValidateJsonSchema names the offending path") {
  struct Case {
    const char* args;
    const char* field;
  };
  const Case cases[] = {
      {R"({})", "title"},                                   // required
      {R"({"title":7})", "title"},                          // type
      {R"({"title":""})", "title"},                         // minLength
      {R"({"title":"toolong"})", "title"},                  // maxLength
      {R"({"title":"a","status":"done"})", "status"},       // enum
      {R"({"title":"a","count":0})", "count"},              // minimum
      {R"({"title":"a","count":11})", "count"},             // maximum
      {R"({"title":"a","count":1.5})", "count"},            // integer
      {R"({"title":"a","extra":1})", "extra"},              // additionalProperties
      {R"({"title":"a","tags":["x",2]})", "tags[1]"},       // items
      {R"({"title":"a","meta":{}})", "meta.n"},             // nested required
      {R"([])", "arguments"},                               // root type
  };
  for (const Case& c : cases) {
    const std::string info_args = c.args;
    INFO(info_args);
    Status s = ValidateJsonSchema(TaskSchema(), Json::parse(c.args));
    REQUIRE_FALSE(s.ok());
    CHECK(s.code() == StatusCode::kInvalidArgument);
    CHECK(s.field() == c.field);
  }
}

TEST_CASE("ToolRegistry registers, lists, validates and runs") {
  ToolRegistry reg;
  Tool echo{{"echo", "Echo the title", TaskSchema()},
            [](const ToolContext&, const Json& args) -> Result<Json> {
              return Json{{"echo", args["title"]}};
            }};
  REQUIRE(reg.Register(echo).ok());
  CHECK(reg.Has("echo"));
  CHECK_FALSE(reg.Has("nope"));
  REQUIRE(reg.Specs().size() == 1);
  CHECK(reg.Specs()[0].name == "echo");

  Status dup = reg.Register(echo);
  CHECK(dup.code() == StatusCode::kAlreadyExists);
  CHECK(reg.Register({{"bad name!", "", TaskSchema()}, echo.run}).code() ==
        StatusCode::kInvalidArgument);
  CHECK(reg.Register({{std::string(65, 'a'), "", TaskSchema()}, echo.run}).code() ==
        StatusCode::kInvalidArgument);
  CHECK(reg.Register({{"arr", "", Json{{"type", "array"}}}, echo.run}).code() ==
        StatusCode::kInvalidArgument);
  CHECK(reg.Register({{"norun", "", TaskSchema()}, nullptr}).code() ==
        StatusCode::kInvalidArgument);

  Principal p = Principal::ForUser("u1");
  RequestContext rc;
  ToolContext ctx{p, rc};
  auto ok = reg.Run("echo", ctx, {{"title", "hi"}});
  REQUIRE(ok.ok());
  CHECK((*ok)["echo"] == "hi");
  auto bad = reg.Run("echo", ctx, {{"title", 5}});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().field() == "title");
  auto missing = reg.Run("nope", ctx, Json::object());
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == StatusCode::kNotFound);
}

TEST_CASE("a throwing tool becomes an error, not an exception") {
  ToolRegistry reg;
  REQUIRE(reg.Register({{"boom", "", Json{{"type", "object"}}},
                        [](const ToolContext&, const Json&) -> Result<Json> {
                          throw std::runtime_error("secret detail");
                        }})
              .ok());
  Principal p = Principal::ForUser("u1");
  RequestContext rc;
  auto r = reg.Run("boom", ToolContext{p, rc}, Json::object());
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == StatusCode::kInternal);
  CHECK(r.status().message().find("secret") == std::string::npos);
}

}  // TEST_SUITE
