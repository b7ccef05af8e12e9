// The providers over HTTPS: remote APIs are reached through OpenSSL with the
// system's trust store, which OpenSSL lets SSL_CERT_FILE replace. A fake
// upstream serves TLS with a certificate made for the test.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "assistant/providers.hpp"
#include "fake_upstream/fake_upstream.hpp"
#include "fake_upstream/test_certificate.hpp"
#include "llm_test_support.hpp"

using namespace assistant;
using fake_upstream::FakeUpstream;
namespace fs = std::filesystem;

namespace {

constexpr const char* kKey = "sk-test-tls-Hq27Vd9XwL4m";

std::string ExpectedText(const std::string& name) {
  std::string base = name.substr(0, name.rfind('.'));
  return Json::parse(testing::RecordedLlm(base + ".expected.json"))["content"].get<std::string>();
}

// Two certificates (only the first one trusted) in a fresh directory, and
// SSL_CERT_FILE pointing at the first while the test runs.
class TrustedCertificate final {
 public:
  TrustedCertificate() {
    const char* env = std::getenv("ASSISTANT_TEST_TMP");
    dir_ = fs::path(env && *env ? env : "/tmp") /
           ("tls-test-" + std::to_string(::getpid()) + "-" + NewId().substr(24));
    fs::create_directories(dir_);
    fake_upstream::WriteSelfSignedCertificate(cert(), key());
    fake_upstream::WriteSelfSignedCertificate(other_cert(), other_key());
    if (const char* old = std::getenv("SSL_CERT_FILE")) saved_ = old;
    ::setenv("SSL_CERT_FILE", cert().c_str(), 1);
  }
  ~TrustedCertificate() {
    if (saved_) {
      ::setenv("SSL_CERT_FILE", saved_->c_str(), 1);
    } else {
      ::unsetenv("SSL_CERT_FILE");
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string cert() const { return (dir_ / "trusted.pem").string(); }
  std::string key() const { return (dir_ / "trusted.key").string(); }
  std::string other_cert() const { return (dir_ / "other.pem").string(); }
  std::string other_key() const { return (dir_ / "other.key").string(); }

 private:
  fs::path dir_;
  std::optional<std::string> saved_;
};

std::unique_ptr<LlmProvider> Make(const std::string& protocol, const FakeUpstream& fake) {
  return testing::MakeProvider(protocol, testing::FakeUpstreamConfig(fake.base_url(), kKey));
}

ChatRequest Hello() {
  ChatRequest r;
  r.messages.push_back({MessageRole::kUser, "Say hello", {}, "", ""});
  return r;
}

}  // namespace

TEST_CASE("llm provider over HTTPS: a trusted certificate carries the streamed reply") {
  TrustedCertificate certs;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"openai", "openai_text_utf8.sse"},
      {"ollama", "ollama_text_utf8.ndjson"},
      {"cohere", "cohere_text_utf8.sse"}};
  for (const auto& [protocol, file] : cases) {
    INFO(protocol);
    FakeUpstream fake(protocol, 0, fake_upstream::Tls{certs.cert(), certs.key()});
    REQUIRE(fake.base_url().rfind("https://127.0.0.1:", 0) == 0);
    fake.EnqueueStream(testing::RecordedLlm(file));
    auto provider = Make(protocol, fake);
    std::string streamed;
    Result<ChatResponse> r = provider->Chat(
        Hello(),
        [&](std::string_view d) {
          streamed.append(d);
          return true;
        },
        CancellationToken());
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    CHECK(r->content == ExpectedText(file));
    CHECK(streamed == r->content);
    auto requests = fake.requests();
    REQUIRE(requests.size() == 1);
    CHECK(requests[0].headers["authorization"] == std::string("Bearer ") + kKey);
  }
}

TEST_CASE("llm provider over HTTPS: an untrusted certificate is refused at once, key unsent") {
  TrustedCertificate certs;
  FakeUpstream fake("openai", 0, fake_upstream::Tls{certs.other_cert(), certs.other_key()});
  fake.EnqueueStream(testing::RecordedLlm("openai_text_utf8.sse"));
  auto provider = Make("openai", fake);
  Result<ChatResponse> r = provider->Chat(Hello(), nullptr, CancellationToken());
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().reason() == "upstream_error");
  CHECK(r.status().message().find("TLS certificate") != std::string::npos);
  CHECK(r.status().message().find(kKey) == std::string::npos);
  // Not retried, and the request (with its key) never went out.
  CHECK(fake.request_count() == 0);
}
