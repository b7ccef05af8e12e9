// The checks in validate.mjs can fail: shapes a misreading of each protocol
// would produce must be refused, and their corrected forms accepted.
import assert from "node:assert/strict";
import { validateRecord } from "./validate.mjs";

const req = (protocol, body) => ({ protocol, direction: "request", body: JSON.stringify(body) });
const cohereTurn = (toolContent, asked = {}) => ({
  model: "command-a-03-2025",
  stream: true,
  messages: [
    { role: "user", content: "Add milk" },
    { role: "assistant", tool_plan: "I will add it.", ...asked,
      tool_calls: [{ id: "c1", type: "function", function: { name: "add_task", arguments: "{}" } }] },
    { role: "tool", tool_call_id: "c1", content: [toolContent] },
  ],
});
const refused = (rec, why) => assert.notDeepEqual(validateRecord(rec), [], why);
const accepted = (rec, why) => assert.deepEqual(validateRecord(rec), [], why);

// Issue 15 item 1: document.data as a JSON string was what the server sent.
refused(req("cohere", cohereTurn({ type: "document", document: { data: "{\"ok\":true}" } })),
        "cohere: a document whose data is a string");
accepted(req("cohere", cohereTurn({ type: "document", document: { data: { ok: true } } })),
         "cohere: a document whose data is an object");
accepted(req("cohere", cohereTurn({ type: "text", text: "[1,2]" })), "cohere: a text block");
refused(req("cohere", cohereTurn({ type: "text", text: "x" }, { plan: "typo" })),
        "cohere: an unknown key on the assistant message");

const openai = {
  model: "m", stream: true, messages: [{ role: "user", content: "hi" }],
};
accepted(req("openai", openai), "openai: a plain request");
refused(req("openai", { ...openai, messages: [{ role: "tool", content: "x" }] }),
        "openai: a tool message without tool_call_id");
refused(req("openai", { ...openai, logprob: true }), "openai: an unknown parameter");
refused({ protocol: "openai", direction: "response",
          body: "data: {\"id\":\"x\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"m\",\"choices\":[]}\n\n" },
        "openai: a non-chunk object in a stream");

const ollama = { model: "m", stream: true, messages: [{ role: "user", content: "hi" }] };
accepted(req("ollama", ollama), "ollama: a plain request");
refused(req("ollama", { ...ollama, messages: [{ role: "assistant", content: "",
  tool_calls: [{ function: { name: "t", arguments: "{}" } }] }] }),
        "ollama: tool arguments as a string instead of an object");
refused({ protocol: "ollama", direction: "response", body: "{\"model\":\"m\",\"done\":true}\n" },
        "ollama: a final line without its counters");
console.log("selftest: every misreading refused, every correct shape accepted");
