// The openai, ollama and cohere providers against a fake upstream over real
// loopback HTTP: streaming, tool calls, retries, timeouts, broken streams,
// cancellation, and what error messages may (not) contain.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "assistant/providers.hpp"
#include "fake_upstream/fake_upstream.hpp"
#include "llm/http_provider.hpp"
#include "llm_test_support.hpp"

using namespace assistant;
using fake_upstream::FakeUpstream;
using fake_upstream::Reply;
using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr const char* kKey = "sk-test-Zq81LmP0vX5tKw3YbN7c";

std::string Recorded(const std::string& name) { return testing::RecordedLlm(name); }

Json Expected(const std::string& name) {
  std::string base = name.substr(0, name.rfind('.'));
  return Json::parse(Recorded(base + ".expected.json"));
}

ProviderConfig Config(const FakeUpstream& fake) {
  return testing::FakeUpstreamConfig(fake.base_url(), kKey);
}

std::unique_ptr<LlmProvider> Make(const std::string& protocol, const ProviderConfig& c) {
  return testing::MakeProvider(protocol, c);
}

ChatRequest Request() {
  ChatRequest r;
  r.messages.push_back({MessageRole::kSystem, "You manage tasks.", {}, "", ""});
  r.messages.push_back({MessageRole::kUser, "Add milk to my list", {}, "", ""});
  ToolSpec add;
  add.name = "add_task";
  add.description = "Add a task";
  add.parameters = {{"type", "object"},
                    {"properties", {{"title", {{"type", "string"}}}}},
                    {"required", {"title"}}};
  r.tools.push_back(add);
  return r;
}

struct ChatOutcome {
  Result<ChatResponse> result = Status(StatusCode::kUnknown, "not run");
  std::vector<std::string> deltas;
  milliseconds elapsed{0};
  std::string joined() const {
    std::string s;
    for (const auto& d : deltas) s += d;
    return s;
  }
};

ChatOutcome Chat(LlmProvider& p, const CancellationToken& cancel = CancellationToken(),
         std::function<bool(const std::string&)> on_delta = nullptr) {
  ChatOutcome run;
  auto start = SteadyClock::now();
  run.result = p.Chat(
      Request(),
      [&](std::string_view d) {
        run.deltas.emplace_back(d);
        return on_delta ? on_delta(std::string(d)) : true;
      },
      cancel);
  run.elapsed = std::chrono::duration_cast<milliseconds>(SteadyClock::now() - start);
  return run;
}

void CheckClean(const Status& s, const FakeUpstream& fake) {
  INFO("message: " << s.message());
  CHECK(s.message().find(kKey) == std::string::npos);
  CHECK(s.message().find("sk-test") == std::string::npos);
  CHECK(s.message().find("127.0.0.1") == std::string::npos);
  CHECK(s.message().find(std::to_string(fake.port())) == std::string::npos);
}

const char* kProtocols[] = {"openai", "ollama", "cohere"};

std::string TextRecording(const std::string& protocol) {
  return protocol == "openai"   ? "openai_text_utf8.sse"
         : protocol == "ollama" ? "ollama_text_utf8.ndjson"
                                : "cohere_text_utf8.sse";
}

std::string ToolRecording(const std::string& protocol) {
  return protocol == "openai"   ? "openai_tool_calls.sse"
         : protocol == "ollama" ? "ollama_tool_calls.ndjson"
                                : "cohere_tool_calls.sse";
}

}  // namespace

TEST_CASE("llm provider: a streamed reply arrives as deltas and as the whole") {
  for (const std::string protocol : kProtocols) {
    INFO(protocol);
    FakeUpstream fake(protocol);
    const std::string file = TextRecording(protocol);
    fake.EnqueueStream(Recorded(file));
    auto provider = Make(protocol, Config(fake));
    CHECK(provider->name() == protocol);
    ChatOutcome run = Chat(*provider);
    REQUIRE(run.result.ok());
    Json exp = Expected(file);
    CHECK(run.result->content == exp["content"].get<std::string>());
    CHECK(run.joined() == run.result->content);
    CHECK(run.deltas == exp["deltas"].get<std::vector<std::string>>());
    CHECK(run.result->usage.prompt_tokens == exp["usage"]["prompt_tokens"].get<int64_t>());
    CHECK(run.result->usage.completion_tokens ==
          exp["usage"]["completion_tokens"].get<int64_t>());
    CHECK(run.result->finish_reason == "stop");

    // What went over the wire: the protocol's route, the key as a bearer
    // header, a streaming body in the protocol's shape.
    auto reqs = fake.requests();
    REQUIRE(reqs.size() == 1);
    CHECK(reqs[0].path == fake.chat_path());
    CHECK(reqs[0].headers["authorization"] == std::string("Bearer ") + kKey);
    CHECK(reqs[0].headers["content-type"] == "application/json");
    Json body = Json::parse(reqs[0].body);
    CHECK(body["stream"] == true);
    CHECK(body["model"] == "test-model");
    CHECK(body["messages"].size() == 2);
    CHECK(body["messages"][1]["content"] == "Add milk to my list");
    CHECK(body["tools"][0]["function"]["name"] == "add_task");
  }
}

TEST_CASE("llm provider: tool calls come back with parsed arguments") {
  for (const std::string protocol : kProtocols) {
    INFO(protocol);
    FakeUpstream fake(protocol);
    const std::string file = ToolRecording(protocol);
    fake.EnqueueStream(Recorded(file));
    auto provider = Make(protocol, Config(fake));
    ChatOutcome run = Chat(*provider);
    REQUIRE(run.result.ok());
    Json exp = Expected(file);
    REQUIRE(run.result->tool_calls.size() == exp["tool_calls"].size());
    for (size_t i = 0; i < run.result->tool_calls.size(); ++i) {
      CHECK(run.result->tool_calls[i].id == exp["tool_calls"][i]["id"].get<std::string>());
      CHECK(run.result->tool_calls[i].name == exp["tool_calls"][i]["name"].get<std::string>());
      CHECK(run.result->tool_calls[i].arguments == exp["tool_calls"][i]["arguments"]);
    }
    CHECK(run.result->finish_reason == "tool_calls");
    CHECK(run.deltas.empty());
    // Cohere states a plan for its calls, to be sent back with them.
    CHECK(run.result->tool_plan ==
          (protocol == "cohere" ? "I will add the task." : ""));
  }
}

TEST_CASE("llm provider: 429 with Retry-After is retried after that wait") {
  FakeUpstream fake("openai");
  Reply limited;
  limited.status = 429;
  limited.body = R"({"error":{"message":"Rate limit reached","type":"requests"}})";
  limited.content_type = "application/json";
  limited.headers["Retry-After"] = "1";
  fake.Enqueue(limited);
  fake.EnqueueStream(Recorded("openai_text_utf8.sse"));
  auto provider = Make("openai", Config(fake));
  ChatOutcome run = Chat(*provider);
  REQUIRE(run.result.ok());
  CHECK(fake.request_count() == 2);
  CHECK(run.elapsed >= milliseconds(950));
  CHECK(run.joined() == run.result->content);
}

TEST_CASE("llm provider: Retry-After is capped") {
  FakeUpstream fake("cohere");
  Reply limited;
  limited.status = 429;
  limited.body = R"({"message":"too many requests"})";
  limited.content_type = "application/json";
  limited.headers["Retry-After"] = "3600";
  fake.Enqueue(limited);
  fake.EnqueueStream(Recorded("cohere_text_utf8.sse"));
  ProviderConfig c = Config(fake);
  c.max_retry_after = milliseconds(100);
  auto provider = Make("cohere", c);
  ChatOutcome run = Chat(*provider);
  REQUIRE(run.result.ok());
  CHECK(run.elapsed < milliseconds(2000));
}

TEST_CASE("llm provider: 500 twice then success is retried to success") {
  FakeUpstream fake("ollama");
  Reply err;
  err.status = 500;
  err.body = R"({"error":"llama runner process has terminated"})";
  err.content_type = "application/json";
  fake.Enqueue(err);
  fake.Enqueue(err);
  fake.EnqueueStream(Recorded("ollama_text_utf8.ndjson"));
  auto provider = Make("ollama", Config(fake));
  ChatOutcome run = Chat(*provider);
  REQUIRE(run.result.ok());
  CHECK(fake.request_count() == 3);
  CHECK(run.result->content == Expected("ollama_text_utf8.ndjson")["content"].get<std::string>());
}

TEST_CASE("llm provider: retries run out into upstream_error") {
  FakeUpstream fake("openai");
  for (int i = 0; i < 3; ++i) {
    Reply err;
    err.status = 503;
    err.body = R"({"error":{"message":"The engine is currently overloaded"}})";
    err.content_type = "application/json";
    fake.Enqueue(err);
  }
  auto provider = Make("openai", Config(fake));
  ChatOutcome run = Chat(*provider);
  REQUIRE_FALSE(run.result.ok());
  CHECK(run.result.status().code() == StatusCode::kUnavailable);
  CHECK(run.result.status().reason() == "upstream_error");
  CHECK(run.result.status().message().find("503") != std::string::npos);
  CHECK(run.result.status().message().find("overloaded") != std::string::npos);
  CHECK(fake.request_count() == 3);  // 1 + max_retries
  CheckClean(run.result.status(), fake);
}

TEST_CASE("llm provider: a 4xx other than 408/429 is not retried") {
  FakeUpstream fake("cohere");
  Reply bad;
  bad.status = 400;
  bad.body = R"({"message":"invalid request: model 'x' not found"})";
  bad.content_type = "application/json";
  fake.Enqueue(bad);
  auto provider = Make("cohere", Config(fake));
  ChatOutcome run = Chat(*provider);
  REQUIRE_FALSE(run.result.ok());
  CHECK(run.result.status().reason() == "upstream_error");
  CHECK(run.result.status().message().find("model 'x' not found") != std::string::npos);
  CHECK(fake.request_count() == 1);
}

TEST_CASE("llm provider: silence before the first byte is upstream_timeout") {
  FakeUpstream fake("openai");
  Reply stall;
  stall.delay_before_headers = milliseconds(5000);
  stall.body = Recorded("openai_text_utf8.sse");
  fake.Enqueue(stall);
  ProviderConfig c = Config(fake);
  c.read_timeout = milliseconds(400);
  auto provider = Make("openai", c);
  ChatOutcome run = Chat(*provider);
  REQUIRE_FALSE(run.result.ok());
  CHECK(run.result.status().code() == StatusCode::kDeadlineExceeded);
  CHECK(run.result.status().reason() == "upstream_timeout");
  CHECK(run.elapsed >= milliseconds(350));
  CHECK(run.elapsed < milliseconds(2500));
  CHECK(fake.request_count() == 1);  // a timeout is not retried
  CheckClean(run.result.status(), fake);
}

TEST_CASE("llm provider: the read timeout is silence, not total time") {
  FakeUpstream fake("ollama");
  Reply hold;
  hold.body = Recorded("ollama_text_utf8.ndjson");
  hold.hold_after = hold.body.find('\n') + 1;  // one line, then silence
  fake.Enqueue(hold);
  ProviderConfig c = Config(fake);
  c.read_timeout = milliseconds(400);
  auto provider = Make("ollama", c);
  // The fake's keep-alive blank lines every 10 ms are activity, so 600 ms
  // of them outlast a 400 ms read timeout; the client cancels to end it.
  CancellationToken cancel;
  std::atomic<bool> got_text{false}, finished{false};
  std::thread canceller([&] {
    while (!got_text && !finished) std::this_thread::sleep_for(milliseconds(5));
    std::this_thread::sleep_for(milliseconds(600));
    cancel.Cancel();
  });
  ChatOutcome run = Chat(*provider, cancel, [&](const std::string&) {
    got_text = true;
    return true;
  });
  finished = true;
  canceller.join();
  REQUIRE_FALSE(run.result.ok());
  // Keep-alives kept the read alive past read_timeout: not a timeout.
  CHECK(run.result.status().code() == StatusCode::kCancelled);
  CHECK(run.deltas == std::vector<std::string>{"Bonjour"});
}

TEST_CASE("llm provider: silence after output has started is upstream_timeout, no retry") {
  FakeUpstream fake("cohere");
  Reply hold;
  hold.body = Recorded("cohere_text_utf8.sse");
  hold.hold_after = hold.body.find("content-delta");
  hold.hold_silently = true;
  fake.Enqueue(hold);
  fake.EnqueueStream(Recorded("cohere_text_utf8.sse"));  // must not be used
  ProviderConfig c = Config(fake);
  c.read_timeout = milliseconds(400);
  auto provider = Make("cohere", c);
  ChatOutcome run = Chat(*provider);
  REQUIRE_FALSE(run.result.ok());
  CHECK(run.result.status().code() == StatusCode::kDeadlineExceeded);
  CHECK(run.result.status().reason() == "upstream_timeout");
  CHECK(run.deltas == std::vector<std::string>{"Sure"});
  CHECK(fake.request_count() == 1);
}

TEST_CASE("llm provider: a stream broken after output is an error, not retried") {
  for (const std::string protocol : kProtocols) {
    INFO(protocol);
    FakeUpstream fake(protocol);
    const std::string file = TextRecording(protocol);
    Reply broken;
    broken.body = Recorded(file);
    broken.break_after = broken.body.size() * 2 / 3;
    fake.Enqueue(broken);
    fake.EnqueueStream(Recorded(file));  // must not be used
    auto provider = Make(protocol, Config(fake));
    ChatOutcome run = Chat(*provider);
    REQUIRE_FALSE(run.result.ok());
    CHECK(run.result.status().code() == StatusCode::kUnavailable);
    CHECK(run.result.status().reason() == "upstream_error");
    CHECK(fake.request_count() == 1);
    // The partial reply is what reached the sink: a non-empty prefix.
    const std::string full = Expected(file)["content"];
    CHECK_FALSE(run.deltas.empty());
    CHECK(run.joined().size() < full.size());
    CHECK(full.rfind(run.joined(), 0) == 0);
    CheckClean(run.result.status(), fake);
  }
}

TEST_CASE("llm provider: a stream broken before any output is retried") {
  FakeUpstream fake("openai");
  Reply broken;
  broken.body = Recorded("openai_text_utf8.sse");
  broken.break_after = 40;  // inside the first (role-only) chunk
  fake.Enqueue(broken);
  fake.EnqueueStream(Recorded("openai_text_utf8.sse"));
  auto provider = Make("openai", Config(fake));
  ChatOutcome run = Chat(*provider);
  REQUIRE(run.result.ok());
  CHECK(fake.request_count() == 2);
  CHECK(run.joined() == run.result->content);
}

TEST_CASE("llm provider: cancel mid-stream closes the upstream connection within 1 s") {
  for (const std::string protocol : kProtocols) {
    INFO(protocol);
    FakeUpstream fake(protocol);
    Reply hold;
    hold.body = Recorded(TextRecording(protocol));
    hold.hold_after = hold.body.size() / 2;
    fake.Enqueue(hold);
    auto provider = Make(protocol, Config(fake));
    CancellationToken cancel;
    std::atomic<bool> got_text{false}, finished{false};
    SteadyClock::time_point cancelled_at{};
    std::thread canceller([&] {
      while (!got_text && !finished) std::this_thread::sleep_for(milliseconds(5));
      std::this_thread::sleep_for(milliseconds(100));  // mid-stream, while held
      cancelled_at = SteadyClock::now();
      cancel.Cancel();
    });
    ChatOutcome run = Chat(*provider, cancel, [&](const std::string&) {
      got_text = true;
      return true;
    });
    finished = true;
    canceller.join();
    REQUIRE_FALSE(run.result.ok());
    CHECK(run.result.status().code() == StatusCode::kCancelled);
    CHECK(SteadyClock::now() - cancelled_at < milliseconds(1000));
    REQUIRE(fake.WaitForClientClose(milliseconds(1000)));
    CHECK(fake.client_closed_at() - cancelled_at < milliseconds(1000));
    CHECK(fake.request_count() == 1);
  }
}

TEST_CASE("llm provider: a sink returning false stops the stream like a cancel") {
  FakeUpstream fake("cohere");
  Reply hold;
  hold.body = Recorded("cohere_text_utf8.sse");
  hold.hold_after = hold.body.size() - 10;
  fake.Enqueue(hold);
  auto provider = Make("cohere", Config(fake));
  ChatOutcome run = Chat(*provider, CancellationToken(), [](const std::string&) { return false; });
  REQUIRE_FALSE(run.result.ok());
  CHECK(run.result.status().code() == StatusCode::kCancelled);
  CHECK(run.deltas.size() == 1);
  CHECK(fake.WaitForClientClose(milliseconds(1000)));
}

TEST_CASE("llm provider: cancel while the upstream is silent returns promptly") {
  FakeUpstream fake("ollama");
  Reply stall;
  stall.delay_before_headers = milliseconds(5000);
  stall.body = Recorded("ollama_text_utf8.ndjson");
  fake.Enqueue(stall);
  auto provider = Make("ollama", Config(fake));
  CancellationToken cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(milliseconds(200));
    cancel.Cancel();
  });
  ChatOutcome run = Chat(*provider, cancel);
  canceller.join();
  REQUIRE_FALSE(run.result.ok());
  CHECK(run.result.status().code() == StatusCode::kCancelled);
  CHECK(run.elapsed < milliseconds(1200));
}

TEST_CASE("llm provider: cancel during the backoff wait returns promptly") {
  FakeUpstream fake("openai");
  Reply limited;
  limited.status = 429;
  limited.body = "{}";
  limited.content_type = "application/json";
  limited.headers["Retry-After"] = "20";
  fake.Enqueue(limited);
  ProviderConfig c = Config(fake);
  c.max_retry_after = milliseconds(20000);
  auto provider = Make("openai", c);
  CancellationToken cancel;
  std::thread canceller([&] {
    std::this_thread::sleep_for(milliseconds(300));
    cancel.Cancel();
  });
  ChatOutcome run = Chat(*provider, cancel);
  canceller.join();
  REQUIRE_FALSE(run.result.ok());
  CHECK(run.result.status().code() == StatusCode::kCancelled);
  CHECK(run.elapsed < milliseconds(1500));
  CHECK(fake.request_count() == 1);
}

TEST_CASE("llm provider: the key and the address never appear in errors") {
  FakeUpstream fake("openai");
  // An auth failure that quotes the key back, as real servers do.
  Reply auth;
  auth.status = 401;
  auth.body = std::string(R"({"error":{"message":"Incorrect API key provided: )") + kKey +
              R"(. You can find your API key at https://example.invalid"}})";
  auth.content_type = "application/json";
  fake.Enqueue(auth);
  // Another error echoing the key and the host in its message.
  Reply echo;
  echo.status = 400;
  echo.body = std::string(R"({"error":{"message":"bad request from 127.0.0.1:)") +
              std::to_string(fake.port()) + " with key " + kKey + R"("}})";
  echo.content_type = "application/json";
  fake.Enqueue(echo);
  auto provider = Make("openai", Config(fake));

  ChatOutcome run = Chat(*provider);
  REQUIRE_FALSE(run.result.ok());
  CHECK(run.result.status().reason() == "upstream_error");
  CHECK(run.result.status().message().find("401") != std::string::npos);
  CheckClean(run.result.status(), fake);

  run = Chat(*provider);
  REQUIRE_FALSE(run.result.ok());
  CHECK(run.result.status().message().find("bad request") != std::string::npos);
  CheckClean(run.result.status(), fake);

  // Nothing listening: a connection error, retried, then reported cleanly.
  ProviderConfig c = Config(fake);
  int dead_port = 0;
  {
    FakeUpstream gone("openai");
    dead_port = gone.port();
    c.base_url = gone.base_url();
  }
  auto dead = Make("openai", c);
  run = Chat(*dead);
  REQUIRE_FALSE(run.result.ok());
  CHECK(run.result.status().code() == StatusCode::kUnavailable);
  CHECK(run.result.status().reason() == "upstream_error");
  CHECK(run.result.status().message().find(std::to_string(dead_port)) == std::string::npos);
  CheckClean(run.result.status(), fake);
}

TEST_CASE("llm provider: an error object in the stream keeps the text before it") {
  FakeUpstream fake("openai");
  fake.EnqueueStream(Recorded("openai_error_midstream.sse"));
  auto provider = Make("openai", Config(fake));
  ChatOutcome run = Chat(*provider);
  REQUIRE_FALSE(run.result.ok());
  CHECK(run.result.status().reason() == "upstream_error");
  CHECK(run.joined() == "Partial \xE2\x9C\x93");
  CHECK(fake.request_count() == 1);
}

TEST_CASE("llm provider: no API key means no Authorization header") {
  FakeUpstream fake("ollama");
  fake.EnqueueStream(Recorded("ollama_text_utf8.ndjson"));
  ProviderConfig c = Config(fake);
  c.api_key.clear();
  auto provider = Make("ollama", c);
  ChatOutcome run = Chat(*provider);
  REQUIRE(run.result.ok());
  CHECK(fake.requests()[0].headers.count("authorization") == 0);
}

TEST_CASE("llm provider: https:// goes through TLS; a plain-HTTP peer fails cleanly") {
  FakeUpstream fake("cohere");
  fake.EnqueueStream(Recorded("cohere_text_utf8.sse"));
  ProviderConfig c = Config(fake);
  c.base_url = "https://127.0.0.1:" + std::to_string(fake.port());
  c.max_retries = 0;
  auto provider = Make("cohere", c);
  ChatOutcome run = Chat(*provider);
  REQUIRE_FALSE(run.result.ok());
  CHECK(run.result.status().code() == StatusCode::kUnavailable);
  CHECK(run.result.status().reason() == "upstream_error");
  CHECK(run.deltas.empty());
  CheckClean(run.result.status(), fake);
}

TEST_CASE("llm provider: base URLs") {
  using llm::ParseBaseUrl;
  auto u = ParseBaseUrl("https://api.openai.com/v1/");
  REQUIRE(u.ok());
  CHECK(u->origin == "https://api.openai.com");
  CHECK(u->host == "api.openai.com");
  CHECK(u->path_prefix == "/v1");
  u = ParseBaseUrl("http://127.0.0.1:11434");
  REQUIRE(u.ok());
  CHECK(u->origin == "http://127.0.0.1:11434");
  CHECK(u->path_prefix.empty());
  u = ParseBaseUrl("http://[::1]:8080/proxy/v1");
  REQUIRE(u.ok());
  CHECK(u->host == "::1");
  CHECK(u->path_prefix == "/proxy/v1");
  for (const char* bad : {"", "api.openai.com", "ftp://x", "http://", "http://user:pw@host",
                          "http://host:99999", "http://host:x", "http://host/?q=1",
                          "http://ho st"}) {
    INFO(bad);
    auto r = ParseBaseUrl(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().field() == "base_url");
  }
  ProviderConfig c;
  c.base_url = "http://secret-host.internal:notaport";
  c.model = "m";
  auto p = NewOpenAiProvider(c);
  REQUIRE_FALSE(p.ok());
  CHECK(p.status().code() == StatusCode::kInvalidArgument);
  CHECK(p.status().message().find("secret-host") == std::string::npos);
}

TEST_CASE("llm provider: retry helpers") {
  CHECK(llm::ParseRetryAfter("7") == 7);
  CHECK(llm::ParseRetryAfter(" 12 ") == 12);
  CHECK(llm::ParseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT") == -1);
  CHECK(llm::ParseRetryAfter("") == -1);
  CHECK(llm::ParseRetryAfter("-1") == -1);
  for (int attempt = 0; attempt < 10; ++attempt) {
    auto d = llm::BackoffDelay(attempt, milliseconds(100), milliseconds(1000));
    CHECK(d >= milliseconds(0));
    CHECK(d <= std::min(milliseconds(1000), milliseconds(100 << attempt)));
  }
}
