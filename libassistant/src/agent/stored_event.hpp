// How a run's events that repeat its reply are stored (see stored_event.cpp).
//
// A run's `message.done` holds the whole assistant message, and a
// `tool.result` the same result the message's tool call holds: for a
// 20-task listing that is the largest part of a turn's events, written
// twice beside the message itself. When the reply is stored in the same
// transaction, those two events are stored as references to it and
// rebuilt from the message when read back:
//   message.done  {"message_ref": <message id>, "usage": {...}}
//   tool.result   {"id", "name", "result_ref": true}
//   message.delta {"content_ref": [from, to]}   bytes [from, to) of the
//                 reply's content (a turn's deltas add up to it, in order)
// Storage::ListRunEvents returns these forms; RunService::Attach resolves
// them, so clients never see them.
#ifndef ASSISTANT_SRC_AGENT_STORED_EVENT_HPP_
#define ASSISTANT_SRC_AGENT_STORED_EVENT_HPP_

#include <optional>
#include <string>

#include "assistant/runs.hpp"
#include "assistant/types.hpp"

namespace assistant {

// obj[key] when it is a string, else "": stored events are read back
// without trusting their shape (a library caller may append any JSON).
std::string StoredText(const Json& obj, const char* key);

// The reference forms.
Json MessageDoneRef(const std::string& message_id, Json usage);
Json ToolResultRef(const std::string& call_id, const std::string& tool_name);

// Whether `e` holds a reference that `ResolveStoredEvent` needs the reply for.
bool IsStoredEventRef(const RunEvent& e);

// Replaces `e`'s reference (if any) by what it stands for in `reply`; a
// missing reply (deleted since) leaves `message` or `result` null.
void ResolveStoredEvent(RunEvent& e, const std::optional<Message>& reply);

// The stored form of `e`'s data when `reply` holds all it repeats (without
// copying what it repeats); nullopt when `e` is to be stored as it is.
// `text_offset` is how many bytes of the reply's content the run's deltas
// before `e` hold (npos when unknown: no delta is referenced then); a delta
// advances it.
std::optional<Json> StoredRef(const RunEvent& e, const Message& reply, size_t& text_offset);

}  // namespace assistant

#endif  // ASSISTANT_SRC_AGENT_STORED_EVENT_HPP_
