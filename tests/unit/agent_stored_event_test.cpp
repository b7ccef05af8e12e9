// The stored forms of run events that repeat the reply (agent/stored_event.hpp):
// what is referenced, and that reading back never trusts the stored shape.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "agent/stored_event.hpp"

using namespace assistant;

namespace {

Message Reply(std::string content) {
  Message m;
  m.id = "m1";
  m.conversation_id = "c1";
  m.role = MessageRole::kAssistant;
  m.content = std::move(content);
  m.status = MessageStatus::kCompleted;
  return m;
}

RunEvent Delta(int64_t id, const std::string& text) {
  return RunEvent{"r1", id, "message.delta", {{"content", text}}};
}

}  // namespace

TEST_CASE("stored events: deltas that spell the reply in order are stored as byte ranges") {
  const Message reply = Reply("Hello, w\xC3\xB6rld.\n\nDone.");
  const std::vector<std::string> parts = {"Hello, w\xC3", "\xB6rld.", "\n\n", "Done."};
  size_t offset = 0;
  std::vector<RunEvent> stored;
  for (size_t i = 0; i < parts.size(); ++i) {
    RunEvent e = Delta(static_cast<int64_t>(i) + 1, parts[i]);
    std::optional<Json> ref = StoredRef(e, reply, offset);
    REQUIRE(ref.has_value());
    stored.push_back(RunEvent{e.run_id, e.id, e.type, *ref});
  }
  CHECK(offset == reply.content.size());
  CHECK(stored[0].data == Json{{"content_ref", {0, 9}}});
  // Read back: each delta is exactly its text again, split UTF-8 included.
  std::string joined;
  for (size_t i = 0; i < stored.size(); ++i) {
    REQUIRE(IsStoredEventRef(stored[i]));
    ResolveStoredEvent(stored[i], reply);
    CHECK(stored[i].data == Json{{"content", parts[i]}});
    joined += parts[i];
  }
  CHECK(joined == reply.content);
}

TEST_CASE("stored events: a delta the reply does not continue is stored as it is, and so are later ones") {
  const Message reply = Reply("abcdef");
  size_t offset = 0;
  CHECK(StoredRef(Delta(1, "abc"), reply, offset).has_value());
  CHECK_FALSE(StoredRef(Delta(2, "xyz"), reply, offset).has_value());
  CHECK(offset == std::string::npos);
  // "def" does continue the reply, but where it starts is no longer known.
  CHECK_FALSE(StoredRef(Delta(3, "def"), reply, offset).has_value());
  // Longer than what is left of the reply.
  size_t near_end = 4;
  CHECK_FALSE(StoredRef(Delta(1, "efg"), reply, near_end).has_value());
  // A delta with more than its text is kept whole.
  size_t start = 0;
  CHECK_FALSE(StoredRef(RunEvent{"r1", 1, "message.delta", {{"content", "ab"}, {"extra", 1}}},
                        reply, start)
                  .has_value());
  // Unknown from the start (events were stored before this batch).
  size_t unknown = std::string::npos;
  CHECK_FALSE(StoredRef(Delta(5, "abc"), reply, unknown).has_value());
}

TEST_CASE("stored events: a hostile or dangling content range reads back as empty text") {
  const Message reply = Reply("abcdef");
  const std::vector<Json> ranges = {Json::array({4, 2}),  Json::array({0, 7}),
                                    Json::array({-1, 2}), Json::array({0}),
                                    Json("0-2"),          Json::array({0.5, 2})};
  for (const Json& range : ranges) {
    RunEvent e{"r1", 1, "message.delta", {{"content_ref", range}}};
    ResolveStoredEvent(e, reply);
    CHECK(e.data == Json{{"content", ""}});
  }
  // The reply is gone (deleted since).
  RunEvent e{"r1", 1, "message.delta", {{"content_ref", {0, 3}}}};
  ResolveStoredEvent(e, std::nullopt);
  CHECK(e.data == Json{{"content", ""}});
  RunEvent ok{"r1", 1, "message.delta", {{"content_ref", {1, 3}}}};
  ResolveStoredEvent(ok, reply);
  CHECK(ok.data == Json{{"content", "bc"}});
}
