// Renders docs/c-api.md's reference part (every method, every error code)
// from the tables in the code, and keeps the document true to them:
//
//   c_api_docs --check docs/c-api.md   exit 1 when the document differs
//   c_api_docs --write docs/c-api.md   rewrite the generated part
//
// The generated part sits between two marker lines
// (tools/generated_section.hpp); the rest is prose kept by hand.
#include <string>

#include "api/methods.hpp"
#include "assistant/http_status.hpp"
#include "c_errors.hpp"
#include "common/error_table.hpp"
#include "generated_section.hpp"

namespace {

std::string Generated() {
  std::string out = "\n## Methods\n\n";
  out += assistant::api::MethodsMarkdown();
  out += "## Error codes\n\n";
  out += "Frozen: a code keeps its number forever; new codes are only appended.\n\n";
  out += "The core's one error table gives each reason its C code and its HTTP status\n"
         "(the servers answer with that status; a 5xx body never carries the internal\n"
         "message). `invalid_field` is 400 instead when it names no field.\n\n";
  out += "| code | name (the error's `code` string) | HTTP |\n|---:|---|---:|\n";
  out += "| 0 | `ok` | 200 |\n";
  for (int code = 1; code <= assistant::capi::LastErrorCode(); ++code) {
    const char* name = assistant::capi::ErrorCodeName(code);
    const auto* e = assistant::errors::FindReason(name);
    // The status of the reason with the kind it comes with; an invalid
    // value names its field, unreadable input does not.
    const bool names_field = e->kind == assistant::StatusCode::kInvalidArgument &&
                             e->reason != "malformed_request";
    const int http = assistant::HttpStatusFor(
        assistant::Status(e->kind, "-", name, names_field ? "field" : ""));
    out += "| " + std::to_string(code) + " | `" + name + "` | " + std::to_string(http) + " |\n";
  }
  out += "\n";
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  return assistant::tools::CheckOrWriteGeneratedSection("c_api_docs", argc, argv, Generated(),
                                                        "the method and error tables");
}
