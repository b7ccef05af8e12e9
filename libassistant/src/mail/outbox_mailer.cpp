// The default mailer: one JSON line per message appended to a local outbox
// file that an operator (or a development setup) reads.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "assistant/clock.hpp"
#include "assistant/mailer.hpp"
#include "assistant/types.hpp"
#include "common/json_text.hpp"

namespace assistant {

namespace {

class OutboxMailer final : public Mailer {
 public:
  explicit OutboxMailer(std::string path) : path_(std::move(path)) {}

  Status Send(const MailMessage& m) override {
    if (path_.empty()) return FailedPreconditionError("no outbox path configured");
    Json line = {{"time", FormatTime(Clock::Default()->Now())},
                 {"to", m.to},
                 {"subject", m.subject},
                 {"body", m.body},
                 {"kind", m.kind},
                 {"token", m.token}};
    // `replace` keeps one bad byte from losing the whole message.
    std::string text = DumpJson(line);
    text.push_back('\n');
    std::lock_guard<std::mutex> lock(mu_);
    // The outbox holds live tokens: readable by the owner only. Opened per
    // message so an operator may rotate or truncate the file at any time.
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
      return UnavailableError(std::string("cannot open the mail outbox: ") + std::strerror(errno),
                              "mailer_unavailable");
    }
    size_t off = 0;
    while (off < text.size()) {
      ssize_t n = ::write(fd, text.data() + off, text.size() - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        ::close(fd);
        return UnavailableError(std::string("cannot write the mail outbox: ") + std::strerror(err),
                                "mailer_unavailable");
      }
      off += static_cast<size_t>(n);
    }
    if (::close(fd) != 0) {
      return UnavailableError(std::string("cannot write the mail outbox: ") + std::strerror(errno),
                              "mailer_unavailable");
    }
    return Status();
  }

 private:
  const std::string path_;
  std::mutex mu_;
};

}  // namespace

std::unique_ptr<Mailer> NewOutboxMailer(const std::string& path) {
  return std::make_unique<OutboxMailer>(path);
}

}  // namespace assistant
