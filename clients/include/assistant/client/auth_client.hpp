// File: assistant/client/auth_client.hpp
//
// AuthClient: signing in to assistant-server (or assistant-gateway) over
// HTTP, as the JavaScript @auth package does for web apps. It keeps the
// token pair in a TokenStore, refreshes the access token by itself shortly
// before it expires and once after a 401, and tells listeners when the
// signed-in state changes. The other clients (AgentClient, TasksClient,
// ConversationsClient) make their calls through it. docs/clients.md.
//
// Errors are the core's: Status::reason() is the server's error code, the
// message ends with the request id (RequestIdOf extracts it), a server that
// cannot be reached is Unavailable ("connection_failed"), one that stops
// answering DeadlineExceeded ("timeout").
//
// Thread safety: every method is safe to call from many threads at once;
// threads that find the access token expired share one refresh request.
//
// Example:
//   assistant::client::AuthClient auth({"http://127.0.0.1:8000"});
//   auto me = auth.Login("ann@example.com", "correct horse battery");
//   assistant::client::TasksClient tasks(auth);
//   tasks.Create({"buy milk"});
#ifndef ASSISTANT_CLIENT_AUTH_CLIENT_HPP_
#define ASSISTANT_CLIENT_AUTH_CLIENT_HPP_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "assistant/client/token_store.hpp"
#include "assistant/status.hpp"
#include "assistant/types.hpp"

namespace assistant::client {

struct ClientOptions {
  // The server's root, e.g. "http://127.0.0.1:8000" or "https://host/prefix".
  std::string base_url = "http://127.0.0.1:8000";
  // Default 5 s.
  std::chrono::milliseconds connect_timeout{5000};
  // Silence after which a call fails with "timeout". Default 60 s, the
  // server's own upstream timeout (a streamed turn may pause that long).
  std::chrono::milliseconds read_timeout{60000};
  // The access token is refreshed when it expires within this. Default 30 s.
  std::chrono::milliseconds refresh_margin{30000};
};

enum class AuthEvent {
  kSignedIn,      // Register or Login succeeded
  kSignedOut,     // Logout (or the account was deleted)
  kSessionEnded,  // the server ended the session (revoked, expired, reused)
};

// The request id a failed call's Status carries, or "".
std::string RequestIdOf(const Status& status);

class AuthClient {
 public:
  // `store` defaults to a memory store.
  explicit AuthClient(ClientOptions options, std::shared_ptr<TokenStore> store = nullptr);
  AuthClient(const AuthClient&) = delete;
  AuthClient& operator=(const AuthClient&) = delete;

  Result<User> Register(const std::string& email, const std::string& password,
                        const std::string& name = "");
  Result<User> Login(const std::string& email, const std::string& password);
  // Revokes the session on the server and forgets the tokens. The tokens
  // are forgotten even when the server cannot be told.
  Status Logout();
  // Rotates the refresh token for a new pair now.
  Status Refresh();
  Result<User> CurrentUser();
  // GET /api/auth/verify: {valid, user, claims}.
  Result<Json> Verify();
  // Whether a token pair is held (it may still be refused by the server).
  bool SignedIn();

  using Listener = std::function<void(AuthEvent)>;
  // Listeners run on the thread whose call changed the state; returns an
  // id for RemoveListener.
  int AddListener(Listener listener);
  void RemoveListener(int id);

  // An authenticated call, for the other clients: the access token is
  // refreshed before expiry, and a 401 is retried once after a refresh.
  // `body` null sends no body. Returns the JSON answer ({} for 204).
  Result<Json> Call(const std::string& method, const std::string& path, const Json& body = nullptr);
  // A fresh access token (refreshed when about to expire);
  // Unauthenticated ("signed_out") when nobody is signed in.
  Result<std::string> AccessToken();
  // After `token` was refused with 401: refreshes unless another thread
  // already did, and returns the token to retry with.
  Result<std::string> RefreshAfterRejection(const std::string& token);

  const ClientOptions& options() const { return options_; }

 private:
  Result<User> SignIn(const std::string& path, const Json& body);
  Result<TokenSet> Current();
  Status Store(const Json& answer);
  Result<std::string> RefreshLocked(uint64_t seen_generation);
  void Forget(AuthEvent event);
  void Notify(AuthEvent event);

  const ClientOptions options_;
  std::shared_ptr<TokenStore> store_;
  std::mutex refresh_mu_;  // one refresh request at a time
  std::mutex mu_;          // guards the fields below
  std::optional<TokenSet> tokens_;
  bool loaded_ = false;
  uint64_t generation_ = 0;  // bumped whenever the pair changes
  std::map<int, Listener> listeners_;
  int next_listener_ = 1;
};

}  // namespace assistant::client

#endif  // ASSISTANT_CLIENT_AUTH_CLIENT_HPP_
