// Black-box: the auth routes, cookies, sessions, API keys, password reset,
// email verification, JWKS, and the JWT attack cases.
#include <openssl/hmac.h>
#include <sys/stat.h>

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "assistant/jwt.hpp"
#include "crypto/base64url.hpp"
#include "harness.hpp"

using namespace http_test;

namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// An HS256 token over `header` and `claims`, signed with `key`.
std::string SignHs256(const Json& header, const Json& claims, const std::string& key) {
  const std::string input = assistant::Base64UrlEncode(header.dump()) + "." +
                            assistant::Base64UrlEncode(claims.dump());
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return input + "." + assistant::Base64UrlEncode(std::string(reinterpret_cast<char*>(mac), len));
}

Json DecodePart(const std::string& token, int part) {
  size_t a = token.find('.'), b = token.find('.', a + 1);
  std::string seg = part == 0 ? token.substr(0, a) : token.substr(a + 1, b - a - 1);
  return Json::parse(*assistant::Base64UrlDecode(seg));
}

// The last mail of `kind` in the outbox, as the server wrote it.
Json LastMail(const ServerProcess& s, const std::string& kind) {
  std::istringstream in(ReadAll(s.db_path() + ".outbox.jsonl"));
  std::string line;
  Json last;
  while (std::getline(in, line)) {
    Json j = Json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.value("kind", "") == kind) last = j;
  }
  return last;
}

}  // namespace

TEST_SUITE("http.auth") {

TEST_CASE("register, login, me, refresh, logout") {
  ServerProcess s;
  REQUIRE(s.started());
  const User u = Register(s);
  REQUIRE_FALSE(u.access_token.empty());

  auto dup = s.Call("POST", "/api/auth/register",
                    Json{{"email", u.email}, {"password", "another password"}});
  CHECK(dup.status == 409);

  auto login = s.Call("POST", "/api/auth/login", Json{{"email", u.email}, {"password", u.password}});
  REQUIRE(login.status == 200);
  CHECK(login.json["token_type"] == "Bearer");
  CHECK(login.json["expires_in"].get<int>() > 0);
  CHECK(login.json["user"]["email"] == u.email);
  const std::string cookie = login.Header("Set-Cookie");
  CHECK(cookie.find("access_token=") == 0);
  CHECK(cookie.find("HttpOnly") != std::string::npos);
  CHECK(cookie.find("SameSite=Lax") != std::string::npos);
  CHECK(login.Header("Cache-Control") == "no-store");

  // The cookie alone authenticates.
  const std::string token = login.json["access_token"];
  auto me = s.Call("GET", "/api/user/me", std::nullopt, "", {{"Cookie", "theme=dark; access_token=" + token}});
  CHECK(me.status == 200);
  CHECK(me.json["user"]["id"] == u.id);

  auto verify = s.Call("GET", "/api/auth/verify", std::nullopt, token);
  CHECK(verify.status == 200);
  CHECK(verify.json["valid"] == true);
  CHECK(verify.json["claims"]["sub"] == u.id);

  auto wrong_pw = s.Call("POST", "/api/auth/login", Json{{"email", u.email}, {"password", "nope nope nope"}});
  auto no_user = s.Call("POST", "/api/auth/login",
                        Json{{"email", "nobody@example.com"}, {"password", "nope nope nope"}});
  CHECK(wrong_pw.status == 401);
  CHECK(no_user.status == 401);
  CHECK(wrong_pw.ErrorCode() == "invalid_credentials");
  CHECK(no_user.ErrorCode() == "invalid_credentials");
  CHECK(wrong_pw.json["error"]["message"] == no_user.json["error"]["message"]);

  auto refreshed = s.Call("POST", "/api/auth/refresh", Json{{"refresh_token", login.json["refresh_token"]}});
  REQUIRE(refreshed.status == 200);
  CHECK(refreshed.json["refresh_token"] != login.json["refresh_token"]);
  const std::string fresh = refreshed.json["access_token"];
  CHECK(s.Call("GET", "/api/tasks", std::nullopt, fresh).status == 200);

  auto logout = s.Call("POST", "/api/auth/logout", std::nullopt, fresh);
  CHECK(logout.status == 204);
  CHECK(logout.Header("Set-Cookie").find("Max-Age=0") != std::string::npos);
  // Revocation is immediate.
  auto after = s.Call("GET", "/api/tasks", std::nullopt, fresh);
  CHECK(after.status == 401);
  CHECK(after.Header("WWW-Authenticate") == "Bearer");
  // The register session is untouched.
  CHECK(s.Call("GET", "/api/tasks", std::nullopt, u.access_token).status == 200);
}

TEST_CASE("refresh grace: same pair within the window; reuse after it revokes the session") {
  ServerProcess grace;
  REQUIRE(grace.started());
  const User a = Register(grace);
  auto r1 = grace.Call("POST", "/api/auth/refresh", Json{{"refresh_token", a.refresh_token}});
  auto r2 = grace.Call("POST", "/api/auth/refresh", Json{{"refresh_token", a.refresh_token}});
  REQUIRE(r1.status == 200);
  REQUIRE(r2.status == 200);
  CHECK(r1.json["access_token"] == r2.json["access_token"]);
  CHECK(r1.json["refresh_token"] == r2.json["refresh_token"]);

  ServerProcess strict({"--refresh-grace", "0"});
  REQUIRE(strict.started());
  const User b = Register(strict);
  auto first = strict.Call("POST", "/api/auth/refresh", Json{{"refresh_token", b.refresh_token}});
  REQUIRE(first.status == 200);
  auto reuse = strict.Call("POST", "/api/auth/refresh", Json{{"refresh_token", b.refresh_token}});
  CHECK(reuse.status == 401);
  // The whole family and its access tokens are gone.
  CHECK(strict.Call("GET", "/api/tasks", std::nullopt, first.json["access_token"]).status == 401);
  CHECK(strict.Call("POST", "/api/auth/refresh", Json{{"refresh_token", first.json["refresh_token"]}}).status == 401);
}

TEST_CASE("bad input to auth routes") {
  ServerProcess s;
  REQUIRE(s.started());
  auto missing = s.Call("POST", "/api/auth/register", Json{{"password", "long enough pw"}});
  CHECK(missing.status == 422);
  CHECK(missing.json["error"]["field"] == "email");
  auto short_pw = s.Call("POST", "/api/auth/register", Json{{"email", "x@example.com"}, {"password", "short"}});
  CHECK(short_pw.status == 422);
  CHECK(short_pw.json["error"]["field"] == "password");
  auto wrong_type = s.Call("POST", "/api/auth/login", Json{{"email", 12}, {"password", "x"}});
  CHECK(wrong_type.status == 422);
  CHECK(s.Raw("POST", "/api/auth/login", "{\"email\":", "application/json").status == 400);
  CHECK(s.Raw("POST", "/api/auth/login", "email=a", "application/x-www-form-urlencoded").status == 415);
  CHECK(s.Raw("POST", "/api/auth/login", "[1,2]", "application/json").status == 400);
  auto bad_utf8 = s.Raw("POST", "/api/auth/register",
                        "{\"email\":\"a\xff@example.com\",\"password\":\"long enough pw\"}",
                        "application/json");
  CHECK(bad_utf8.status == 400);
  CHECK(s.Call("POST", "/api/auth/refresh", Json{{"refresh_token", "rt_garbage"}}).status == 401);
}

TEST_CASE("JWT attack cases are all 401") {
  ServerProcess s;
  REQUIRE(s.started());
  const User u = Register(s);
  const std::string secret = [&] {
    std::string k = ReadAll(s.db_path() + ".jwt-secret");
    while (!k.empty() && (k.back() == '\n' || k.back() == ' ')) k.pop_back();
    return k;
  }();
  REQUIRE(secret.size() == 64);
  const Json header = DecodePart(u.access_token, 0);
  const Json claims = DecodePart(u.access_token, 1);
  // Sanity: re-signing the real claims with the real key works, so the
  // cases below fail for the reason they test.
  REQUIRE(s.Call("GET", "/api/tasks", std::nullopt, SignHs256(header, claims, secret)).status == 200);

  std::vector<std::pair<std::string, std::string>> cases;
  {
    Json h = header;
    h["alg"] = "none";
    const std::string unsigned_token = assistant::Base64UrlEncode(h.dump()) + "." +
                                       assistant::Base64UrlEncode(claims.dump()) + ".";
    cases.push_back({"alg none", unsigned_token});
  }
  {
    Json h = header;
    h["alg"] = "HS512";
    cases.push_back({"alg HS512", SignHs256(h, claims, secret)});
  }
  {
    Json h = header;
    h["alg"] = "EdDSA";
    cases.push_back({"alg EdDSA with an HMAC signature", SignHs256(h, claims, secret)});
  }
  cases.push_back({"wrong key", SignHs256(header, claims, std::string(64, 'x'))});
  {
    Json c = claims;
    c["sub"] = "someone-else";
    const std::string sig = u.access_token.substr(u.access_token.rfind('.'));
    cases.push_back({"tampered payload", assistant::Base64UrlEncode(header.dump()) + "." +
                                             assistant::Base64UrlEncode(c.dump()) + sig});
  }
  {
    Json c = claims;
    c["exp"] = c["iat"].get<int64_t>() - 10;
    cases.push_back({"expired", SignHs256(header, c, secret)});
  }
  {
    Json c = claims;
    c["aud"] = "another-service";
    cases.push_back({"wrong audience", SignHs256(header, c, secret)});
  }
  {
    Json c = claims;
    c["iss"] = "evil";
    cases.push_back({"wrong issuer", SignHs256(header, c, secret)});
  }
  {
    Json c = claims;
    c.erase("exp");
    cases.push_back({"no exp", SignHs256(header, c, secret)});
  }
  {
    Json c = claims;
    c["sid"] = "not-a-session";
    cases.push_back({"unknown session", SignHs256(header, c, secret)});
  }
  cases.push_back({"garbage", "abc.def.ghi"});
  cases.push_back({"not a jwt", "hello"});
  cases.push_back({"oversized", std::string(6000, 'A')});
  cases.push_back({"unknown api key", "ak_0123456789abcdef0123456789abcdef"});
  cases.push_back({"truncated", u.access_token.substr(0, u.access_token.size() - 5)});

  for (const auto& [name, token] : cases) {
    INFO(name);
    auto r = s.Call("GET", "/api/tasks", std::nullopt, token);
    CHECK(r.status == 401);
    CHECK(r.json["error"]["request_id"].is_string());
  }
  // Wrong schemes and empty credentials.
  CHECK(s.Call("GET", "/api/tasks", std::nullopt, "", {{"Authorization", "Basic dXNlcjpwdw=="}}).status == 401);
  CHECK(s.Call("GET", "/api/tasks", std::nullopt, "", {{"Authorization", "Bearer "}}).status == 401);
  // Control bytes cannot be in a field value (RFC 9110 section 5.5): the
  // transport refuses the request before authentication looks at it.
  CHECK(s.Call("GET", "/api/tasks", std::nullopt, "", {{"Authorization", "Bearer \x01\x02\x7f"}}).status == 400);
  CHECK(s.Call("GET", "/api/tasks").status == 401);
  CHECK(s.Call("GET", "/api/tasks", std::nullopt, "", {{"Cookie", "access_token=junk"}}).status == 401);
}

TEST_CASE("sessions: listed, revocable, revoking one kills its tokens") {
  ServerProcess s;
  REQUIRE(s.started());
  const User u = Register(s);
  auto second = s.Call("POST", "/api/auth/login", Json{{"email", u.email}, {"password", u.password}},
                       "", {{"User-Agent", "second-device"}});
  REQUIRE(second.status == 200);
  auto list = s.Call("GET", "/api/auth/sessions", std::nullopt, u.access_token);
  REQUIRE(list.status == 200);
  REQUIRE(list.json["sessions"].size() == 2);
  std::string other_id;
  int current = 0;
  for (const auto& x : list.json["sessions"]) {
    if (x["current"] == true) ++current;
    else other_id = x["id"];
  }
  CHECK(current == 1);
  REQUIRE_FALSE(other_id.empty());
  CHECK(s.Call("DELETE", "/api/auth/sessions/" + other_id, std::nullopt, u.access_token).status == 204);
  CHECK(s.Call("GET", "/api/tasks", std::nullopt, second.json["access_token"]).status == 401);
  CHECK(s.Call("GET", "/api/tasks", std::nullopt, u.access_token).status == 200);
}

TEST_CASE("API keys: shown once, scoped, revocable; logout with a key is not_a_session") {
  ServerProcess s;
  REQUIRE(s.started());
  const User u = Register(s);
  auto created = s.Call("POST", "/api/auth/api-keys",
                        Json{{"name", "reader"}, {"scopes", {"tasks:read"}}}, u.access_token);
  REQUIRE(created.status == 201);
  const std::string key = created.json["key"];
  CHECK(key.rfind("ak_", 0) == 0);
  CHECK(created.json["api_key"]["scopes"] == Json::array({"tasks:read"}));
  const std::string key_id = created.json["api_key"]["id"];

  auto listed = s.Call("GET", "/api/auth/api-keys", std::nullopt, u.access_token);
  REQUIRE(listed.status == 200);
  REQUIRE(listed.json["api_keys"].size() == 1);
  CHECK(listed.body.find(key) == std::string::npos);

  CHECK(s.Call("GET", "/api/tasks", std::nullopt, key).status == 200);
  auto write = s.Call("POST", "/api/tasks", Json{{"title", "x"}}, key);
  CHECK(write.status == 403);
  CHECK(write.ErrorCode() == "insufficient_scope");
  auto logout = s.Call("POST", "/api/auth/logout", std::nullopt, key);
  CHECK(logout.status == 400);
  CHECK(logout.ErrorCode() == "not_a_session");
  // A key cannot mint keys (no `keys` scope), let alone broader ones.
  CHECK(s.Call("POST", "/api/auth/api-keys", Json{{"name", "x"}, {"scopes", {"tasks:write"}}}, key).status == 403);

  auto bad_scope = s.Call("POST", "/api/auth/api-keys", Json{{"name", "x"}, {"scopes", {"root"}}}, u.access_token);
  CHECK(bad_scope.status == 422);
  CHECK(bad_scope.json["error"]["field"] == "scopes");
  CHECK(s.Call("POST", "/api/auth/api-keys", Json{{"name", "x"}, {"scopes", "tasks:read"}}, u.access_token).status == 422);

  CHECK(s.Call("DELETE", "/api/auth/api-keys/" + key_id, std::nullopt, u.access_token).status == 204);
  CHECK(s.Call("GET", "/api/tasks", std::nullopt, key).status == 401);
}

TEST_CASE("forgot and reset password through the outbox; every session revoked") {
  ServerProcess s;
  REQUIRE(s.started());
  const User u = Register(s);
  CHECK(s.Call("POST", "/api/auth/forgot-password", Json{{"email", "ghost@example.com"}}).status == 202);
  auto forgot = s.Call("POST", "/api/auth/forgot-password", Json{{"email", u.email}});
  CHECK(forgot.status == 202);
  const Json mail = LastMail(s, "password_reset");
  REQUIRE(mail.is_object());
  CHECK(mail["to"] == u.email);
  const std::string token = mail["token"];
  CHECK(s.Call("POST", "/api/auth/reset-password", Json{{"token", "bogus"}, {"password", "new password 1"}}).status == 401);
  CHECK(s.Call("POST", "/api/auth/reset-password", Json{{"token", token}, {"password", "new password 1"}}).status == 204);
  CHECK(s.Call("GET", "/api/tasks", std::nullopt, u.access_token).status == 401);
  CHECK(s.Call("POST", "/api/auth/login", Json{{"email", u.email}, {"password", u.password}}).status == 401);
  CHECK(s.Call("POST", "/api/auth/login", Json{{"email", u.email}, {"password", "new password 1"}}).status == 200);
  // Single use.
  CHECK(s.Call("POST", "/api/auth/reset-password", Json{{"token", token}, {"password", "new password 2"}}).status == 401);
}

TEST_CASE("email verification") {
  ServerProcess s;
  REQUIRE(s.started());
  const User u = Register(s);
  CHECK(s.Call("POST", "/api/auth/send-verification-email", std::nullopt, u.access_token).status == 202);
  const Json mail = LastMail(s, "email_verification");
  REQUIRE(mail.is_object());
  CHECK(s.Call("POST", "/api/auth/verify-email", Json{{"token", mail["token"]}}).status == 204);
  auto me = s.Call("GET", "/api/user/me", std::nullopt, u.access_token);
  CHECK(me.json["user"]["email_verified"] == true);
}

TEST_CASE("JWKS: identity key always; access-token keys with kid in EdDSA mode") {
  ServerProcess hs;
  REQUIRE(hs.started());
  auto jwks = hs.Call("GET", "/.well-known/jwks.json");
  REQUIRE(jwks.status == 200);
  REQUIRE(jwks.json["keys"].size() >= 1);
  for (const auto& k : jwks.json["keys"]) {
    CHECK(k.contains("kid"));
    CHECK_FALSE(k.contains("d"));  // never a private part
  }

  ServerProcess ed({"--jwt-alg", "EdDSA"});
  REQUIRE(ed.started());
  const User u = Register(ed);
  REQUIRE_FALSE(u.access_token.empty());
  const Json header = DecodePart(u.access_token, 0);
  CHECK(header["alg"] == "EdDSA");
  auto keys = ed.Call("GET", "/.well-known/jwks.json");
  REQUIRE(keys.status == 200);
  bool found = false;
  for (const auto& k : keys.json["keys"]) {
    CHECK_FALSE(k.contains("d"));
    if (k["kid"] == header["kid"]) found = true;
  }
  CHECK(found);
  CHECK(ed.Call("GET", "/api/tasks", std::nullopt, u.access_token).status == 200);
  // An HS256 token (any key) is refused by an EdDSA server.
  Json h = header;
  h["alg"] = "HS256";
  CHECK(ed.Call("GET", "/api/tasks", std::nullopt, SignHs256(h, DecodePart(u.access_token, 1), "k")).status == 401);
}

TEST_CASE("the 11th auth request in a minute from one IP is 429 with Retry-After") {
  ServerProcess s({"--rate-limit-auth", "10"});
  REQUIRE(s.started());
  for (int i = 0; i < 10; ++i) {
    auto r = s.Call("POST", "/api/auth/login", Json{{"email", "x@example.com"}, {"password", "whatever pw"}});
    CHECK(r.status == 401);
    CHECK(r.Header("RateLimit-Limit") == "10");
    CHECK(r.Header("RateLimit-Remaining") == std::to_string(9 - i));
  }
  auto limited = s.Call("POST", "/api/auth/login", Json{{"email", "x@example.com"}, {"password", "whatever pw"}});
  CHECK(limited.status == 429);
  CHECK(limited.ErrorCode() == "rate_limited");
  const std::string retry = limited.Header("Retry-After");
  REQUIRE_FALSE(retry.empty());
  CHECK(std::stoi(retry) >= 1);
  CHECK(std::stoi(retry) <= 60);
  CHECK(limited.Header("RateLimit-Remaining") == "0");
  // Register counts too, and non-auth routes are not affected by it.
  CHECK(s.Call("POST", "/api/auth/register", Json{{"email", "n@example.com"}, {"password", "long enough pw"}}).status == 429);
  CHECK(s.Call("GET", "/healthz").status == 200);
}

TEST_CASE("per-principal limit on the API routes") {
  ServerProcess s({"--rate-limit-api", "5"});
  REQUIRE(s.started());
  const User a = Register(s);
  const User b = Register(s);
  for (int i = 0; i < 5; ++i) CHECK(s.Call("GET", "/api/tasks", std::nullopt, a.access_token).status == 200);
  auto limited = s.Call("GET", "/api/tasks", std::nullopt, a.access_token);
  CHECK(limited.status == 429);
  CHECK_FALSE(limited.Header("Retry-After").empty());
  // Another principal has its own budget.
  CHECK(s.Call("GET", "/api/tasks", std::nullopt, b.access_token).status == 200);
}

}  // TEST_SUITE
