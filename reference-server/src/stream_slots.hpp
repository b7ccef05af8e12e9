// The stream slots (docs/server.md "Worker model"): a streamed reply holds a
// worker for its whole life, so at most `total` are open at once, and at
// most `per_user` of them belong to one user, so that one account cannot
// take every slot and shut everyone else out.
//
// Thread safety: every method may be called from any thread.
#ifndef ASSISTANT_SERVER_STREAM_SLOTS_HPP_
#define ASSISTANT_SERVER_STREAM_SLOTS_HPP_

#include <mutex>
#include <string>
#include <unordered_map>

namespace assistant::server {

class StreamSlots {
 public:
  enum class Outcome { kTaken, kServerFull, kUserFull };

  // per_user <= 0: max(4, total / 8).
  StreamSlots(int total, int per_user);

  // Takes a slot for `user_id`; the caller gives it back with Release once
  // the stream ends. Nothing is taken unless the outcome is kTaken.
  Outcome Take(const std::string& user_id);
  void Release(const std::string& user_id);
  int per_user() const { return per_user_; }
  // Streams open now, for /metrics.
  int open() const;

 private:
  const int total_;
  const int per_user_;
  mutable std::mutex mu_;
  int open_ = 0;
  std::unordered_map<std::string, int> by_user_;  // users with a stream open
};

}  // namespace assistant::server

#endif  // ASSISTANT_SERVER_STREAM_SLOTS_HPP_
