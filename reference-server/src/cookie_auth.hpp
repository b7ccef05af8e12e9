// Cookie authentication for the web app: the refresh token in an HttpOnly
// cookie that only the refresh route receives, and the CSRF defence for
// requests that authenticate by cookie. A page on another site can make a
// browser send cookies but cannot add a custom header without a CORS
// preflight, which the allow-list refuses; so a state-changing request
// authenticated by cookie must carry X-Requested-With. Bearer requests
// (API keys, SDKs, curl) are unaffected.
//
// Thread safety: pure functions.
#ifndef ASSISTANT_SERVER_COOKIE_AUTH_HPP_
#define ASSISTANT_SERVER_COOKIE_AUTH_HPP_

#include <cstdint>
#include <string>
#include <string_view>

#include "http/request.hpp"

namespace assistant::server {

inline constexpr char kRefreshCookiePath[] = "/api/auth/refresh";

// Set-Cookie values: the refresh token, HttpOnly, SameSite=Strict, Path
// /api/auth/refresh; and the same cookie cleared.
std::string RefreshCookie(const std::string& token, int64_t max_age_seconds, bool secure);
std::string ClearedRefreshCookie(bool secure);

// The value of cookie `name` in the request's Cookie header ("" if none).
std::string CookieValue(const http::Request& req, std::string_view name);

// True when the request changes state (not GET, HEAD or OPTIONS), has no
// Authorization header (so a cookie is what authenticates it) and lacks
// X-Requested-With: the request a cross-site form could forge.
bool LacksCsrfHeader(const http::Request& req);

}  // namespace assistant::server

#endif  // ASSISTANT_SERVER_COOKIE_AUTH_HPP_
