// The embedder's Observer (assistant/observer.hpp), through public headers
// and Options alone: runs, model calls, tool calls and storage writes.
#include <doctest/doctest.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "assistant/core.hpp"
#include "assistant/llm.hpp"
#include "assistant/observer.hpp"
#include "assistant/storage_wrapper.hpp"
#include "core_fixture.hpp"

using namespace assistant;
using assistant::testing::CoreFixture;
using assistant::testing::FastOptions;

namespace {

// Asks for add_task once, then answers with the tool's result in view.
class OneToolProvider final : public LlmProvider {
 public:
  std::string name() const override { return "embedder"; }
  Result<ChatResponse> Chat(const ChatRequest& request, const DeltaSink& on_delta,
                            const CancellationToken&) override {
    ChatResponse r;
    bool tool_answered = false;
    for (const ChatMessage& m : request.messages) tool_answered |= m.role == MessageRole::kTool;
    if (!tool_answered) {
      r.tool_calls.push_back({"call-1", "add_task", Json{{"title", "buy oat milk"}}});
      r.finish_reason = "tool_calls";
      return r;
    }
    r.content = "Added it.";
    if (on_delta && !on_delta(r.content)) return CancelledError("cancelled");
    r.finish_reason = "stop";
    r.usage.prompt_tokens = 7;
    r.usage.completion_tokens = 2;
    return r;
  }
};

class DownProvider final : public LlmProvider {
 public:
  std::string name() const override { return "down"; }
  Result<ChatResponse> Chat(const ChatRequest&, const DeltaSink&,
                            const CancellationToken&) override {
    return UnavailableError("model host unreachable", "upstream_error");
  }
};

class TaskWritesLocked final : public StorageWrapper {
 public:
  using StorageWrapper::StorageWrapper;
  Status CreateTask(const Task&) override { return UnavailableError("database is locked"); }
};

struct Write {
  std::string operation;
  std::string error_reason;
  bool busy;
};

class CountingObserver final : public Observer {
 public:
  void RunStarted() override {
    std::lock_guard<std::mutex> lock(mu);
    ++started;
  }
  void RunFinished(const RunFinishedEvent& e) override {
    std::lock_guard<std::mutex> lock(mu);
    finished.push_back(e);
  }
  void ProviderCall(const ProviderCallEvent& e) override {
    std::lock_guard<std::mutex> lock(mu);
    provider_calls.push_back(e);
  }
  void ToolCall(const ToolCallEvent& e) override {
    std::lock_guard<std::mutex> lock(mu);
    tool_calls.push_back(e);
  }
  void StorageWrite(const StorageWriteEvent& e) override {
    std::lock_guard<std::mutex> lock(mu);
    writes.push_back({std::string(e.operation), std::string(e.error_reason), e.busy});
  }
  int WritesOf(const std::string& operation) {
    int n = 0;
    for (const Write& w : writes) n += w.operation == operation;
    return n;
  }
  std::mutex mu;
  int started = 0;
  std::vector<RunFinishedEvent> finished;
  std::vector<ProviderCallEvent> provider_calls;
  std::vector<ToolCallEvent> tool_calls;
  std::vector<Write> writes;
};

}  // namespace

TEST_SUITE("core") {
  TEST_CASE("the embedder's observer sees the run, each model call and each tool call") {
    auto observer = std::make_shared<CountingObserver>();
    Options o = FastOptions(nullptr);
    o.agent.llm = std::make_shared<OneToolProvider>();
    o.observer = observer;
    CoreFixture f(o);
    Principal ann = f.NewUser("ann@example.com");
    REQUIRE(f.core->agent().Send(ann, {"add oat milk"}, f.ctx).ok());

    std::lock_guard<std::mutex> lock(observer->mu);
    CHECK(observer->started == 1);
    REQUIRE(observer->finished.size() == 1);
    CHECK(observer->finished[0].status == RunStatus::kCompleted);
    CHECK(observer->finished[0].duration.count() > 0);
    REQUIRE(observer->provider_calls.size() == 2);  // asks for the tool, then answers
    CHECK(observer->provider_calls[0].provider == "embedder");
    CHECK(observer->provider_calls[1].error_reason.empty());
    CHECK(observer->provider_calls[1].prompt_tokens == 7);
    CHECK(observer->provider_calls[1].completion_tokens == 2);
    REQUIRE(observer->tool_calls.size() == 1);
    CHECK(observer->tool_calls[0].tool == "add_task");
    CHECK(observer->tool_calls[0].ok);
    // The tool's task and the run's bookkeeping were written, and said so.
    CHECK(observer->WritesOf("CreateTask") == 1);
    CHECK(observer->WritesOf("FinishRun") == 1);
  }

  TEST_CASE("a failed model call is reported with its reason and the run as failed") {
    auto observer = std::make_shared<CountingObserver>();
    Options o = FastOptions(nullptr);
    o.agent.llm = std::make_shared<DownProvider>();
    o.observer = observer;
    CoreFixture f(o);
    Principal ann = f.NewUser("ann@example.com");
    CHECK_FALSE(f.core->agent().Send(ann, {"hello"}, f.ctx).ok());

    std::lock_guard<std::mutex> lock(observer->mu);
    REQUIRE(observer->provider_calls.size() == 1);
    CHECK(observer->provider_calls[0].provider == "down");
    CHECK(observer->provider_calls[0].error_reason == "upstream_error");
    REQUIRE(observer->finished.size() == 1);
    CHECK(observer->finished[0].status == RunStatus::kFailed);
  }

  TEST_CASE("a storage write that fails is reported with its reason, busy told apart") {
    auto observer = std::make_shared<CountingObserver>();
    Options o = FastOptions(nullptr);
    o.observer = observer;
    auto storage = OpenStorage(o.database_url, o.storage);
    REQUIRE(storage.ok());
    CoreFixture f(o,
                  std::make_shared<TaskWritesLocked>(std::shared_ptr<Storage>(std::move(*storage))));
    Principal ann = f.NewUser("ann@example.com");
    CHECK_FALSE(f.core->tasks().Create(ann, {"buy oat milk"}).ok());

    std::lock_guard<std::mutex> lock(observer->mu);
    CHECK(observer->WritesOf("CreateUser") == 1);
    bool saw = false;
    for (const Write& w : observer->writes) {
      if (w.operation != "CreateTask") continue;
      saw = true;
      CHECK(w.error_reason == "unavailable");
      CHECK(w.busy);
    }
    CHECK(saw);
    // Reads are not reported.
    CHECK(observer->WritesOf("GetUserById") == 0);
  }

  TEST_CASE("without an observer the core reports nothing and still works") {
    CoreFixture f(FastOptions(nullptr));
    Principal ann = f.NewUser("ann@example.com");
    CHECK(f.core->tasks().Create(ann, {"buy oat milk"}).ok());
    NullObserver()->StorageWrite({});
    CHECK(NullObserver() == NullObserver());
  }
}
