#include "assistant/client/auth_client.hpp"

#include <vector>

#include "common/json_text.hpp"
#include "http_call.hpp"
#include "json_read.hpp"

namespace assistant::client {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status SignedOut() {
  return UnauthenticatedError("nobody is signed in on this client", "signed_out");
}

// The server refused the credential itself (not a transient failure).
bool IsRejection(const Status& s) { return s.code() == StatusCode::kUnauthenticated; }

}  // namespace

std::string RequestIdOf(const Status& status) {
  static const std::string kMarker = " (request id ";
  const std::string& m = status.message();
  const size_t at = m.rfind(kMarker);
  if (at == std::string::npos || m.empty() || m.back() != ')') return "";
  return m.substr(at + kMarker.size(), m.size() - 1 - at - kMarker.size());
}

AuthClient::AuthClient(ClientOptions options, std::shared_ptr<TokenStore> store)
    : options_(std::move(options)),
      store_(store ? std::move(store) : std::shared_ptr<TokenStore>(NewMemoryTokenStore())) {}

Status AuthClient::Store(const Json& answer) {
  TokenSet t;
  if (!answer.value("access_token", Json()).is_string() ||
      !answer.value("refresh_token", Json()).is_string() ||
      !answer.value("expires_in", Json()).is_number_integer()) {
    return UnavailableError("the server's sign-in answer lacks its tokens", "bad_response");
  }
  t.access_token = answer["access_token"].get<std::string>();
  t.refresh_token = answer["refresh_token"].get<std::string>();
  t.access_expires_at_ms = NowMs() + answer["expires_in"].get<int64_t>() * 1000;
  ASSISTANT_RETURN_IF_ERROR(store_->Save(t));
  std::lock_guard<std::mutex> lock(mu_);
  tokens_ = std::move(t);
  loaded_ = true;
  ++generation_;
  return Status::Ok();
}

Result<User> AuthClient::SignIn(const std::string& path, const Json& body) {
  internal::HttpRequest req;
  req.method = "POST";
  req.path = path;
  req.body = DumpJson(body);
  ASSISTANT_ASSIGN_OR_RETURN(Json answer, internal::JsonResult(internal::Send(options_, req)));
  ASSISTANT_RETURN_IF_ERROR(Store(answer));
  ASSISTANT_ASSIGN_OR_RETURN(User user, internal::ReadField(answer, "user", internal::ReadUser));
  Notify(AuthEvent::kSignedIn);
  return user;
}

Result<User> AuthClient::Register(const std::string& email, const std::string& password,
                                  const std::string& name) {
  Json body = {{"email", email}, {"password", password}};
  if (!name.empty()) body["name"] = name;
  return SignIn("/api/auth/register", body);
}

Result<User> AuthClient::Login(const std::string& email, const std::string& password) {
  return SignIn("/api/auth/login", {{"email", email}, {"password", password}});
}

Result<TokenSet> AuthClient::Current() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!loaded_) {
    ASSISTANT_ASSIGN_OR_RETURN(tokens_, store_->Load());
    loaded_ = true;
  }
  if (!tokens_) return SignedOut();
  return *tokens_;
}

bool AuthClient::SignedIn() { return Current().ok(); }

void AuthClient::Notify(AuthEvent event) {
  std::vector<Listener> listeners;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, l] : listeners_) listeners.push_back(l);
  }
  for (const auto& l : listeners) l(event);
}

void AuthClient::Forget(AuthEvent event) {
  bool had = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    had = tokens_.has_value();
    tokens_.reset();
    loaded_ = true;
    ++generation_;
  }
  store_->Clear().IgnoreError();  // the pair is gone from memory either way
  if (had) Notify(event);
}

int AuthClient::AddListener(Listener listener) {
  std::lock_guard<std::mutex> lock(mu_);
  listeners_[next_listener_] = std::move(listener);
  return next_listener_++;
}

void AuthClient::RemoveListener(int id) {
  std::lock_guard<std::mutex> lock(mu_);
  listeners_.erase(id);
}

Result<std::string> AuthClient::RefreshLocked(uint64_t seen_generation) {
  std::lock_guard<std::mutex> one_refresh(refresh_mu_);
  TokenSet current;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Another thread refreshed (or signed out) while this one waited.
    if (generation_ != seen_generation) {
      if (!tokens_) return SignedOut();
      return tokens_->access_token;
    }
    if (!tokens_) return SignedOut();
    current = *tokens_;
  }
  internal::HttpRequest req;
  req.method = "POST";
  req.path = "/api/auth/refresh";
  req.body = DumpJson({{"refresh_token", current.refresh_token}});
  Result<Json> answer = internal::JsonResult(internal::Send(options_, req));
  if (!answer.ok()) {
    if (IsRejection(answer.status())) Forget(AuthEvent::kSessionEnded);
    return answer.status();
  }
  ASSISTANT_RETURN_IF_ERROR(Store(*answer));
  std::lock_guard<std::mutex> lock(mu_);
  return tokens_->access_token;
}

Status AuthClient::Refresh() {
  uint64_t seen;
  {
    std::lock_guard<std::mutex> lock(mu_);
    seen = generation_;
  }
  ASSISTANT_RETURN_IF_ERROR(Current().status());
  return RefreshLocked(seen).status();
}

Result<std::string> AuthClient::AccessToken() {
  uint64_t seen;
  ASSISTANT_ASSIGN_OR_RETURN(TokenSet t, Current());
  {
    std::lock_guard<std::mutex> lock(mu_);
    seen = generation_;
  }
  if (t.access_expires_at_ms - options_.refresh_margin.count() > NowMs()) return t.access_token;
  return RefreshLocked(seen);
}

Result<std::string> AuthClient::RefreshAfterRejection(const std::string& token) {
  uint64_t seen;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!tokens_) return SignedOut();
    // Already replaced since that token was handed out: retry with the new one.
    if (tokens_->access_token != token) return tokens_->access_token;
    seen = generation_;
  }
  return RefreshLocked(seen);
}

Result<Json> AuthClient::Call(const std::string& method, const std::string& path,
                              const Json& body) {
  ASSISTANT_ASSIGN_OR_RETURN(std::string token, AccessToken());
  internal::HttpRequest req;
  req.method = method;
  req.path = path;
  if (!body.is_null()) req.body = DumpJson(body);
  req.bearer = token;
  Result<internal::HttpReply> reply = internal::Send(options_, req);
  if (reply.ok() && reply->status == 401) {
    ASSISTANT_ASSIGN_OR_RETURN(req.bearer, RefreshAfterRejection(token));
    reply = internal::Send(options_, req);
  }
  return internal::JsonResult(reply);
}

Status AuthClient::Logout() {
  if (!Current().ok()) return Status::Ok();
  Result<Json> done = Call("POST", "/api/auth/logout");
  Forget(AuthEvent::kSignedOut);
  // Already ended on the server: the client is signed out all the same.
  if (!done.ok() && !IsRejection(done.status())) return done.status();
  return Status::Ok();
}

Result<User> AuthClient::CurrentUser() {
  ASSISTANT_ASSIGN_OR_RETURN(Json answer, Call("GET", "/api/user/me"));
  return internal::ReadField(answer, "user", internal::ReadUser);
}

Result<Json> AuthClient::Verify() { return Call("GET", "/api/auth/verify"); }

}  // namespace assistant::client
