// The one error table (common/error_table.hpp) and the renderers of each
// wire shape (api/error_shapes.hpp): statuses, frozen C codes, and no
// internal message in any 5xx, stored run events included.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "api/error_shapes.hpp"
#include "assistant/http_status.hpp"
#include "common/error_table.hpp"
#include "core_fixture.hpp"

using namespace assistant;

namespace {

// A provider whose upstream fails with a cause that must stay in the log.
class FailingProvider final : public LlmProvider {
 public:
  std::string name() const override { return "failing"; }
  bool uses_context() const override { return false; }
  Result<ChatResponse> Chat(const ChatRequest&, const DeltaSink&,
                            const CancellationToken&) override {
    return UnavailableError("connect to 10.9.8.7:443 with key sk-live-123 refused",
                            "upstream_error");
  }
};

std::string Text(const Json& j) { return j.dump(); }

}  // namespace

TEST_SUITE("errors") {

TEST_CASE("each reason's status comes from the table; others from their kind") {
  CHECK(HttpStatusFor(ResourceExhaustedError("disk full", "storage_full")) == 507);
  CHECK(HttpStatusFor(ResourceExhaustedError("slow down", "rate_limited")) == 429);
  CHECK(HttpStatusFor(ResourceExhaustedError("big", "payload_too_large")) == 413);
  CHECK(HttpStatusFor(UnavailableError("x", "upstream_error")) == 502);
  CHECK(HttpStatusFor(UnavailableError("x", "some_new_reason")) == 503);
  CHECK(HttpStatusFor(InvalidArgumentError("bad", "title")) == 422);
  CHECK(HttpStatusFor(InvalidArgumentError("bad")) == 400);
  for (const errors::ErrorReason& e : errors::kReasons) {
    CAPTURE(e.reason);
    const std::string reason(e.reason);
    // A reason keeps its code whatever kind carries it.
    CHECK(errors::CErrorCodeFor(Status(StatusCode::kInternal, "x", reason)) == e.c_code);
    CHECK(errors::FindReason(errors::CErrorCodeName(e.c_code))->c_code == e.c_code);
    if (e.http_status != 0) {
      CHECK(HttpStatusFor(Status(StatusCode::kInternal, "x", reason)) == e.http_status);
    }
  }
  // Frozen numbers (assistant.h): spot checks beside the build's static_asserts.
  CHECK(errors::CErrorCodeFor(ResourceExhaustedError("x", "storage_full")) == 23);
  CHECK(errors::CErrorCodeFor(Status(StatusCode::kOutOfRange, "x", "new_reason")) == 43);
  CHECK(errors::LastCErrorCode() == 43);
  CHECK(std::string(errors::CErrorCodeName(0)) == "ok");
  CHECK(std::string(errors::CErrorCodeName(999)) == "unknown");
}

TEST_CASE("every wire shape hides a 5xx's internal message and keeps a 4xx's") {
  const Status internal = InternalError("SQL logic error in /srv/secret/assistant.db");
  const Status full = ResourceExhaustedError("database or disk is full: /srv/secret", "storage_full");
  for (const Status& s : {internal, full}) {
    const std::vector<Json> shapes = {
        api::ClientError(s), api::ErrorEnvelope(s, "req-1"), api::ErrorEventData(s),
        api::OpenAiError(HttpStatusFor(s), api::ClientError(s)["code"].get<std::string>(),
                         api::ClientError(s)["message"].get<std::string>(), s.field())};
    for (const Json& shape : shapes) {
      CHECK(Text(shape).find("/srv/secret") == std::string::npos);
    }
  }
  CHECK(api::ErrorEventData(internal)["error"]["code"] == "internal_error");
  CHECK(api::ErrorEventData(full)["error"]["code"] == "storage_full");
  CHECK(api::ErrorEventData(full)["error"]["message"] == "the server's storage is full");
  const Json envelope = api::ErrorEnvelope(InvalidArgumentError("title is empty", "title"), "r");
  CHECK(envelope["error"]["message"] == "title is empty");
  CHECK(envelope["error"]["field"] == "title");
  CHECK(envelope["error"]["request_id"] == "r");
}

TEST_CASE("a failed turn's error event, live and replayed, carries no internal message") {
  Options o = assistant::testing::FastOptions(nullptr);
  o.agent.llm = std::make_shared<FailingProvider>();
  assistant::testing::CoreFixture f(o);
  const Principal me = f.NewUser("err@example.com");
  std::vector<AgentEvent> live;
  auto reply = f.core->agent().Send(me, AgentRequest{"hello"}, f.ctx,
                                    [&](const AgentEvent& ev) {
                                      live.push_back(ev);
                                      return true;
                                    });
  REQUIRE_FALSE(reply.ok());
  CHECK(reply.status().reason() == "upstream_error");  // the caller still gets the cause
  REQUIRE_FALSE(live.empty());
  const AgentEvent& last = live.back();
  CHECK(last.type == "error");
  CHECK(last.data["error"]["code"] == "upstream_error");
  CHECK(last.data["error"]["message"] == "the upstream service failed");
  CHECK(Text(last.data).find("10.9.8.7") == std::string::npos);

  const std::string run_id = live.front().data.value("run_id", "");
  REQUIRE_FALSE(run_id.empty());
  std::vector<RunEvent> replayed;
  Status attached = f.core->runs().Attach(me, run_id, 0, [&](const RunEvent& ev) {
    replayed.push_back(ev);
    return true;
  });
  CHECK(attached.ok());
  REQUIRE_FALSE(replayed.empty());
  CHECK(replayed.back().type == "error");
  CHECK(Text(replayed.back().data).find("sk-live-123") == std::string::npos);
}

}  // TEST_SUITE
