// Password hashing: Argon2id (PHC strings) for new hashes, bcrypt
// ($2a$/$2b$/$2y$) accepted for verification of imported accounts. The work
// runs in a bounded pool of threads so a burst of logins cannot take every
// core or queue without limit: when the queue is full, calls fail at once
// with ResourceExhausted (reason "busy").
//
// Thread safety: every method may be called from many threads at once.
#ifndef ASSISTANT_SRC_CRYPTO_PASSWORD_HASHER_HPP_
#define ASSISTANT_SRC_CRYPTO_PASSWORD_HASHER_HPP_

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "assistant/options.hpp"
#include "assistant/status.hpp"

namespace assistant::crypto {

// 8..1024 characters of valid UTF-8, else InvalidArgument (field "password").
Status ValidatePassword(std::string_view password);

class PasswordHasher final {
 public:
  // InvalidArgument when the options cannot work (zero cost, no thread).
  static Result<std::unique_ptr<PasswordHasher>> Create(const PasswordHashOptions& options);
  ~PasswordHasher();
  PasswordHasher(const PasswordHasher&) = delete;
  PasswordHasher& operator=(const PasswordHasher&) = delete;

  // A fresh Argon2id PHC string with a random 16-byte salt.
  Result<std::string> Hash(std::string_view password);
  // Whether `password` matches `encoded` (Argon2id or bcrypt). A hash in any
  // other or a malformed format never matches. Errors only for "busy".
  Result<bool> Verify(std::string_view password, const std::string& encoded);
  // True for bcrypt and for Argon2 hashes weaker than the configured cost.
  bool NeedsRehash(const std::string& encoded) const;

 private:
  explicit PasswordHasher(const PasswordHashOptions& options);
  // Runs `job` on a worker and waits for it; busy when the queue is full.
  Status Run(std::function<void()> job);
  void WorkerLoop();

  const PasswordHashOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  size_t in_flight_ = 0;  // queued or running
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace assistant::crypto

#endif  // ASSISTANT_SRC_CRYPTO_PASSWORD_HASHER_HPP_
