#include "stream_slots.hpp"

#include <algorithm>

namespace assistant::server {

StreamSlots::StreamSlots(int total, int per_user)
    : total_(total), per_user_(per_user > 0 ? per_user : std::max(4, total / 8)) {}

StreamSlots::Outcome StreamSlots::Take(const std::string& user_id) {
  std::lock_guard<std::mutex> lock(mu_);
  // The server's limit first: a full server is everyone's 503, not this
  // user's fault.
  if (open_ >= total_) return Outcome::kServerFull;
  int& mine = by_user_[user_id];
  if (mine >= per_user_) return Outcome::kUserFull;
  ++mine;
  ++open_;
  return Outcome::kTaken;
}

int StreamSlots::open() const {
  std::lock_guard<std::mutex> lock(mu_);
  return open_;
}

void StreamSlots::Release(const std::string& user_id) {
  std::lock_guard<std::mutex> lock(mu_);
  --open_;
  auto it = by_user_.find(user_id);
  if (it != by_user_.end() && --it->second <= 0) by_user_.erase(it);
}

}  // namespace assistant::server
