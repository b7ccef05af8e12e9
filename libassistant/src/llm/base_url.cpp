#include "llm/base_url.hpp"

#include <cctype>
#include <string>

namespace assistant::llm {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

Result<BaseUrl> ParseBaseUrl(std::string_view url) {
  const Status bad = InvalidArgumentError(
      "base_url must look like http://host[:port][/path] or https://...", "base_url");
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) return bad;
  std::string scheme = Lower(url.substr(0, sep));
  if (scheme != "http" && scheme != "https") return bad;
  std::string_view rest = url.substr(sep + 3);
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
  if (authority.empty() || authority.find('@') != std::string_view::npos) return bad;
  if (path.find_first_of("?#") != std::string_view::npos) return bad;
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return bad;
  }
  BaseUrl out;
  // host[:port] or [v6]:port
  std::string_view host = authority;
  std::string_view port;
  if (authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad;
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad;
      port = after.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
    }
  }
  if (host.empty()) return bad;
  if (!port.empty() || authority.back() == ':') {
    if (port.empty() || port.size() > 5) return bad;
    for (char c : port) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return bad;
    }
    int p = std::stoi(std::string(port));
    if (p < 1 || p > 65535) return bad;
  }
  out.origin = scheme + "://" + std::string(authority);
  out.authority = std::string(authority);
  out.host = std::string(host);
  out.path_prefix = std::string(path);
  while (!out.path_prefix.empty() && out.path_prefix.back() == '/') out.path_prefix.pop_back();
  return out;
}

}  // namespace assistant::llm
