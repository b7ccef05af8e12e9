#include "assistant/client/token_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "assistant/types.hpp"
#include "common/json_text.hpp"

namespace assistant::client {
namespace {

class MemoryTokenStore final : public TokenStore {
 public:
  Result<std::optional<TokenSet>> Load() override {
    std::lock_guard<std::mutex> lock(mu_);
    return tokens_;
  }
  Status Save(const TokenSet& tokens) override {
    std::lock_guard<std::mutex> lock(mu_);
    tokens_ = tokens;
    return Status::Ok();
  }
  Status Clear() override {
    std::lock_guard<std::mutex> lock(mu_);
    tokens_.reset();
    return Status::Ok();
  }

 private:
  std::mutex mu_;
  std::optional<TokenSet> tokens_;
};

Status IoError(const std::string& what, const std::string& path) {
  return UnavailableError(what + " " + path + ": " + std::strerror(errno), "token_store");
}

class FileTokenStore final : public TokenStore {
 public:
  explicit FileTokenStore(std::string path) : path_(std::move(path)) {}

  Result<std::optional<TokenSet>> Load() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::ifstream in(path_, std::ios::binary);
    if (!in) return std::optional<TokenSet>();
    std::stringstream text;
    text << in.rdbuf();
    Json j = Json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.value("access_token", Json()).is_string() ||
        !j.value("refresh_token", Json()).is_string()) {
      return DataLossError("the token file " + path_ + " is damaged");
    }
    TokenSet t;
    t.access_token = j["access_token"].get<std::string>();
    t.refresh_token = j["refresh_token"].get<std::string>();
    t.access_expires_at_ms = j.value("access_expires_at_ms", int64_t{0});
    return std::optional<TokenSet>(std::move(t));
  }

  Status Save(const TokenSet& tokens) override {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string text = DumpJson({{"access_token", tokens.access_token},
                                       {"refresh_token", tokens.refresh_token},
                                       {"access_expires_at_ms", tokens.access_expires_at_ms}});
    const std::string tmp = path_ + ".tmp";
    ::unlink(tmp.c_str());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return IoError("cannot create", tmp);
    size_t done = 0;
    while (done < text.size()) {
      ssize_t n = ::write(fd, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        Status s = IoError("cannot write", tmp);
        ::close(fd);
        ::unlink(tmp.c_str());
        return s;
      }
      done += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
      ::unlink(tmp.c_str());
      return IoError("cannot flush", tmp);
    }
    if (::rename(tmp.c_str(), path_.c_str()) != 0) {
      ::unlink(tmp.c_str());
      return IoError("cannot replace", path_);
    }
    return Status::Ok();
  }

  Status Clear() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (::unlink(path_.c_str()) != 0 && errno != ENOENT) return IoError("cannot remove", path_);
    return Status::Ok();
  }

 private:
  const std::string path_;
  std::mutex mu_;
};

}  // namespace

std::unique_ptr<TokenStore> NewMemoryTokenStore() { return std::make_unique<MemoryTokenStore>(); }

std::unique_ptr<TokenStore> NewFileTokenStore(std::string path) {
  return std::make_unique<FileTokenStore>(std::move(path));
}

}  // namespace assistant::client
