#include "header_policy.hpp"

#include <algorithm>
#include <cctype>

namespace assistant::server {
namespace {

char Lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && HeaderNameIs(s.substr(0, prefix.size()), prefix);
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// RFC 9110 §7.6.1; Proxy-* covers Proxy-Connection and Proxy-Authorization.
constexpr std::string_view kHopByHop[] = {"Connection", "Keep-Alive", "TE",      "Trailer",
                                          "Transfer-Encoding", "Upgrade"};

}  // namespace

bool HeaderNameIs(std::string_view name, std::string_view other) {
  return name.size() == other.size() &&
         std::equal(name.begin(), name.end(), other.begin(),
                    [](char a, char b) { return Lower(a) == Lower(b); });
}

http::Headers EndToEndHeaders(const http::Headers& in, const HeaderPolicy& policy) {
  // The names a Connection header lists are hop-by-hop too.
  std::vector<std::string> named;
  for (const auto& [field, list] : in) {
    if (!HeaderNameIs(field, "Connection")) continue;
    std::string_view rest = list;
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      const std::string_view token = Trim(rest.substr(0, comma));
      if (!token.empty()) named.emplace_back(token);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
  }
  auto any_is = [](const auto& list, std::string_view name) {
    return std::any_of(std::begin(list), std::end(list),
                       [&](const auto& x) { return HeaderNameIs(name, x); });
  };
  http::Headers out;
  for (const auto& [name, value] : in) {
    if (any_is(kHopByHop, name) || StartsWithNoCase(name, "Proxy-") || any_is(named, name) ||
        any_is(policy.drop, name)) {
      continue;
    }
    if (std::any_of(policy.drop_prefixes.begin(), policy.drop_prefixes.end(),
                    [&](const std::string& p) { return StartsWithNoCase(name, p); })) {
      continue;
    }
    out.Add(name, value);
  }
  return out;
}

}  // namespace assistant::server
