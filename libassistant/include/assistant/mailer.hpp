// File: assistant/mailer.hpp
//
// Outgoing mail (password-reset and verification links) through a pluggable
// interface. The default writes each message as one JSON line to an outbox
// file (created with 0600 permissions) that an operator can read; the memory
// mailer keeps messages for tests and embedding programs.
//
// Thread safety: every Mailer is safe to call from many threads.
#ifndef ASSISTANT_MAILER_HPP_
#define ASSISTANT_MAILER_HPP_

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "assistant/status.hpp"

namespace assistant {

struct MailMessage {
  std::string to;
  std::string subject;
  std::string body;
  std::string kind;   // "password_reset" | "email_verification"
  std::string token;  // the one-time token the body carries
};

class Mailer {
 public:
  virtual ~Mailer() = default;
  virtual Status Send(const MailMessage& message) = 0;
};

// Appends JSON lines {time, to, subject, body, kind, token} to `path`.
std::unique_ptr<Mailer> NewOutboxMailer(const std::string& path);

class MemoryMailer final : public Mailer {
 public:
  Status Send(const MailMessage& message) override {
    std::lock_guard<std::mutex> lock(mu_);
    sent_.push_back(message);
    return Status();
  }
  std::vector<MailMessage> sent() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sent_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<MailMessage> sent_;
};

}  // namespace assistant

#endif  // ASSISTANT_MAILER_HPP_
