// A provider's or an app's base URL, parsed once: apart from the HTTP client
// so that what reads configuration (the apps file) does not pull it in.
#ifndef ASSISTANT_SRC_LLM_BASE_URL_HPP_
#define ASSISTANT_SRC_LLM_BASE_URL_HPP_

#include <string>
#include <string_view>

#include "assistant/status.hpp"

namespace assistant::llm {

struct BaseUrl {
  std::string origin;       // "https://host:port", what the HTTP client takes
  std::string authority;    // "host:port" as written (for redaction)
  std::string host;         // "host" (for redaction)
  std::string path_prefix;  // "/v1", or "" — never ends with '/'
};

// http(s)://host[:port][/path]; no user info, query or fragment.
// InvalidArgument (field "base_url") otherwise; the message does not echo it.
Result<BaseUrl> ParseBaseUrl(std::string_view url);

}  // namespace assistant::llm

#endif  // ASSISTANT_SRC_LLM_BASE_URL_HPP_
