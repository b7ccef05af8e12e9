#include "cookie_auth.hpp"

namespace assistant::server {

std::string RefreshCookie(const std::string& token, int64_t max_age_seconds, bool secure) {
  std::string c = "refresh_token=" + token + "; Path=" + kRefreshCookiePath +
                  "; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(max_age_seconds);
  if (secure) c += "; Secure";
  return c;
}

std::string ClearedRefreshCookie(bool secure) { return RefreshCookie("", 0, secure); }

std::string CookieValue(const http::Request& req, std::string_view name) {
  const std::string cookies = req.headers.Get("Cookie");
  size_t pos = 0;
  while (pos < cookies.size()) {
    size_t end = cookies.find(';', pos);
    if (end == std::string::npos) end = cookies.size();
    const size_t b = cookies.find_first_not_of(' ', pos);
    if (b != std::string::npos && b < end && cookies.compare(b, name.size(), name) == 0 &&
        b + name.size() < end && cookies[b + name.size()] == '=') {
      return cookies.substr(b + name.size() + 1, end - b - name.size() - 1);
    }
    pos = end + 1;
  }
  return "";
}

bool LacksCsrfHeader(const http::Request& req) {
  if (req.method == "GET" || req.method == "HEAD" || req.method == "OPTIONS") return false;
  return !req.headers.Has("Authorization") && !req.headers.Has("X-Requested-With");
}

}  // namespace assistant::server
