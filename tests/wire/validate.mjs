// Checks what the fake LLM upstream saw and sent (FAKE_UPSTREAM_WIRE_LOG, one
// JSON line per request or whole 200 reply) against the providers' official
// SDKs, strictly: an unknown key, a missing field or a wrong type fails.
//
//  - cohere: the cohere-ai SDK's own serialization schemas
//    (V2ChatStreamRequest, V2ChatStreamResponse) with unknown keys,
//    union members and enum values refused. They are not in the package's
//    `exports` map, so they are loaded by path from the version that
//    package-lock.json pins.
//  - openai, ollama: their SDKs ship TypeScript types only, nothing that
//    validates at run time, so the schemas below transcribe those types
//    (openai: ChatCompletionCreateParamsStreaming, ChatCompletionChunk;
//    ollama: ChatRequest, ChatResponse) and are checked just as strictly.
//
// Usage: node validate.mjs <wire-log.jsonl>        (exit 1 on any mismatch)
//        node validate.mjs --recordings <dir>     (the transcripts themselves)
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const cohere = require("./node_modules/cohere-ai/serialization/index.js");
const kStrict = {
  unrecognizedObjectKeys: "fail",
  allowUnrecognizedUnionMembers: false,
  allowUnrecognizedEnumValues: false,
};

// ---- a strict schema: every key known, every required one present.
const str = { t: "string" };
const num = { t: "number" };
const int = { t: "integer" };
const bool = { t: "boolean" };
const nul = { t: "null" };
const anyObject = { t: "json-object" };  // free-form (a JSON Schema, tool arguments)
const lit = (v) => ({ t: "literal", v });
const opt = (s) => ({ ...s, optional: true });
const oneOf = (...s) => ({ t: "oneOf", s });
const arr = (s) => ({ t: "array", s });
const obj = (props) => ({ t: "object", props });

function check(schema, v, path, errors) {
  const fail = (m) => errors.push(`${path || "(root)"}: ${m}`);
  switch (schema.t) {
    case "string": if (typeof v !== "string") fail("want a string"); return;
    case "number": if (typeof v !== "number" || !Number.isFinite(v)) fail("want a number"); return;
    case "integer": if (!Number.isInteger(v)) fail("want an integer"); return;
    case "boolean": if (typeof v !== "boolean") fail("want true or false"); return;
    case "null": if (v !== null) fail("want null"); return;
    case "literal": if (v !== schema.v) fail(`want ${JSON.stringify(schema.v)}`); return;
    case "json-object":
      if (v === null || typeof v !== "object" || Array.isArray(v)) fail("want an object");
      return;
    case "array":
      if (!Array.isArray(v)) return fail("want an array");
      v.forEach((x, i) => check(schema.s, x, `${path}[${i}]`, errors));
      return;
    case "oneOf": {
      const tries = schema.s.map((s) => { const e = []; check(s, v, path, e); return e; });
      if (!tries.some((e) => e.length === 0)) {
        fail(`matches none of ${schema.s.length} shapes: ${tries.map((e) => e[0]).join(" | ")}`);
      }
      return;
    }
    case "object": {
      if (v === null || typeof v !== "object" || Array.isArray(v)) return fail("want an object");
      for (const k of Object.keys(v)) {
        if (!(k in schema.props)) fail(`unknown key "${k}"`);
      }
      for (const [k, s] of Object.entries(schema.props)) {
        if (!(k in v)) { if (!s.optional) fail(`missing "${k}"`); continue; }
        check(s, v[k], path ? `${path}.${k}` : k, errors);
      }
      return;
    }
    default: throw new Error(`bad schema ${schema.t}`);
  }
}

// openai/resources/chat/completions: ChatCompletionCreateParamsStreaming,
// restricted to the fields the SDK's types define that we send.
const openaiFunctionTool = obj({
  type: lit("function"),
  function: obj({ name: str, description: opt(str), parameters: opt(anyObject), strict: opt(oneOf(bool, nul)) }),
});
const openaiToolCall = obj({
  id: str, type: lit("function"), function: obj({ name: str, arguments: str }),
});
const openaiTextPart = obj({ type: lit("text"), text: str });
const openaiContent = oneOf(str, arr(openaiTextPart));
const openaiMessage = oneOf(
  obj({ role: lit("system"), content: openaiContent, name: opt(str) }),
  obj({ role: lit("developer"), content: openaiContent, name: opt(str) }),
  obj({ role: lit("user"), content: openaiContent, name: opt(str) }),
  obj({ role: lit("assistant"), content: opt(oneOf(openaiContent, nul)), name: opt(str),
        refusal: opt(oneOf(str, nul)), tool_calls: opt(arr(openaiToolCall)) }),
  obj({ role: lit("tool"), content: openaiContent, tool_call_id: str }),
);
const openaiRequest = obj({
  model: str,
  messages: arr(openaiMessage),
  stream: lit(true),
  stream_options: opt(oneOf(obj({ include_usage: opt(bool), include_obfuscation: opt(bool) }), nul)),
  tools: opt(arr(openaiFunctionTool)),
  temperature: opt(oneOf(num, nul)), top_p: opt(oneOf(num, nul)),
  max_completion_tokens: opt(oneOf(int, nul)), max_tokens: opt(oneOf(int, nul)),
  seed: opt(oneOf(int, nul)), stop: opt(oneOf(str, arr(str), nul)),
});
// ChatCompletionChunk and CompletionUsage.
const openaiUsage = obj({
  prompt_tokens: int, completion_tokens: int, total_tokens: int,
  completion_tokens_details: opt(obj({
    accepted_prediction_tokens: opt(int), audio_tokens: opt(int),
    reasoning_tokens: opt(int), rejected_prediction_tokens: opt(int),
  })),
  prompt_tokens_details: opt(obj({ audio_tokens: opt(int), cached_tokens: opt(int) })),
});
const openaiChunk = obj({
  id: str, object: lit("chat.completion.chunk"), created: int, model: str,
  service_tier: opt(oneOf(str, nul)), system_fingerprint: opt(oneOf(str, nul)),
  usage: opt(oneOf(openaiUsage, nul)),
  choices: arr(obj({
    index: int,
    finish_reason: oneOf(lit("stop"), lit("length"), lit("tool_calls"), lit("content_filter"),
                         lit("function_call"), nul),
    logprobs: opt(oneOf(anyObject, nul)),
    delta: obj({
      role: opt(oneOf(lit("developer"), lit("system"), lit("user"), lit("assistant"), lit("tool"))),
      content: opt(oneOf(str, nul)), refusal: opt(oneOf(str, nul)),
      tool_calls: opt(arr(obj({
        index: int, id: opt(str), type: opt(lit("function")),
        function: opt(obj({ name: opt(str), arguments: opt(str) })),
      }))),
    }),
  })),
});

// A mid-stream failure: the SDK's Stream (core/streaming) turns a data
// payload with `error` into an APIError, so it is part of the protocol.
const openaiStreamError = obj({
  error: obj({ message: str, type: opt(oneOf(str, nul)), param: opt(oneOf(str, nul)),
               code: opt(oneOf(str, nul)) }),
});

// ollama: ChatRequest, Message, Tool, ToolCall, ChatResponse.
const ollamaToolCall = obj({ function: obj({ name: str, arguments: anyObject }) });
const ollamaMessage = obj({
  role: str, content: str, thinking: opt(str), images: opt(arr(str)),
  tool_calls: opt(arr(ollamaToolCall)), tool_name: opt(str),
});
const ollamaRequest = obj({
  model: str, messages: opt(arr(ollamaMessage)), stream: opt(bool),
  format: opt(oneOf(str, anyObject)), keep_alive: opt(oneOf(str, num)),
  tools: opt(arr(obj({
    type: str,
    function: obj({ name: opt(str), description: opt(str), type: opt(str), parameters: opt(anyObject) }),
  }))),
  think: opt(oneOf(bool, lit("high"), lit("medium"), lit("low"))),
  logprobs: opt(bool), top_logprobs: opt(num),
  // Options (all optional), restricted to the sampling fields we send.
  options: opt(obj({
    temperature: opt(num), top_p: opt(num), num_predict: opt(int), seed: opt(int),
    stop: opt(arr(str)),
  })),
});
// A streamed line carries the final counters only when done.
const ollamaLine = oneOf(
  obj({ model: str, created_at: str, message: ollamaMessage, done: lit(false) }),
  obj({
    model: str, created_at: str, message: ollamaMessage, done: lit(true), done_reason: str,
    total_duration: num, load_duration: num, prompt_eval_count: num,
    prompt_eval_duration: num, eval_count: num, eval_duration: num, logprobs: opt(arr(anyObject)),
  }),
);

// SSE data payloads of the complete events in a body (CRLF, CR or LF lines;
// comment lines skipped).
function sseData(body) {
  const out = [];
  for (const block of body.replace(/^\uFEFF/, "").replace(/\r\n?/g, "\n").split("\n\n")) {
    const data = block.split("\n").filter((l) => l.startsWith("data:"))
      .map((l) => l.slice(5).replace(/^ /, "")).join("\n");
    if (data !== "") out.push(data);
  }
  return out;
}

// cohere-ai's ChatMessageStartEventDeltaMessage lists only `role`, while the
// API (in Cohere's documented streams) also sends these, empty: allowed only
// empty, so nothing else slips through.
function withoutEmptyStartFields(event) {
  const m = event?.type === "message-start" ? event?.delta?.message : undefined;
  if (m && typeof m === "object") {
    for (const k of ["content", "tool_plan", "tool_calls", "citations"]) {
      if (k in m && (m[k] === "" || (Array.isArray(m[k]) && m[k].length === 0))) delete m[k];
    }
  }
  return event;
}

function cohereErrors(result) {
  return result.ok ? [] : result.errors.map((e) => `${e.path.join(".")}: ${e.message}`);
}

export function validateRecord(rec) {
  const errors = [];
  const json = (text) => {
    try { return JSON.parse(text); } catch (e) { errors.push(`not JSON: ${e.message}`); return undefined; }
  };
  if (rec.direction === "request") {
    const body = json(rec.body);
    if (body === undefined) return errors;
    if (rec.protocol === "openai") check(openaiRequest, body, "", errors);
    else if (rec.protocol === "ollama") check(ollamaRequest, body, "", errors);
    else if (rec.protocol === "cohere") {
      // The SDK adds `stream` itself when it sends chatStream; the rest is
      // the schema's.
      if (body.stream !== true) errors.push("stream: want true");
      const { stream, ...rest } = body;
      errors.push(...cohereErrors(cohere.V2ChatStreamRequest.parse(rest, kStrict)));
    } else errors.push(`unknown protocol ${rec.protocol}`);
    return errors;
  }
  if (rec.protocol === "ollama") {
    for (const line of rec.body.split(/\r?\n/).filter((l) => l.trim() !== "")) {
      const v = json(line);
      if (v !== undefined) check(ollamaLine, v, "", errors);
    }
  } else {
    for (const data of sseData(rec.body)) {
      if (data === "[DONE]") {
        if (rec.protocol !== "openai") errors.push("[DONE] is OpenAI's end marker only");
        continue;
      }
      const v = json(data);
      if (v === undefined) continue;
      if (rec.protocol === "openai") check(oneOf(openaiChunk, openaiStreamError), v, "", errors);
      else {
        errors.push(...cohereErrors(
          cohere.V2ChatStreamResponse.parse(withoutEmptyStartFields(v), kStrict)));
      }
    }
  }
  return errors;
}

// The recorded transcripts in tests/data/llm as responses, less the ones
// that are broken on purpose (cut short, or an error in place of a reply).
function recordingLines(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const m = /^(openai|ollama|cohere)_.*\.(sse|ndjson)$/.exec(name);
    if (!m || /_(truncated|error)/.test(name)) continue;
    out.push(JSON.stringify({ protocol: m[1], direction: "response", name,
                              body: readFileSync(`${dir}/${name}`, "utf8") }));
  }
  return out;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop())) {
  const [flag, file] = process.argv.slice(2);
  const usage = "usage: node validate.mjs <wire-log.jsonl> | --recordings <dir>";
  if (!flag) { console.error(usage); process.exit(2); }
  const lines = flag === "--recordings"
    ? recordingLines(file)
    : readFileSync(flag, "utf8").split("\n").filter((l) => l.trim() !== "");
  const counts = {};
  let bad = 0;
  for (const line of lines) {
    const rec = JSON.parse(line);
    const key = `${rec.protocol} ${rec.direction}s`;
    counts[key] = (counts[key] ?? 0) + 1;
    const errors = validateRecord(rec);
    if (errors.length > 0) {
      ++bad;
      console.error(`${rec.name ?? rec.protocol} ${rec.direction} does not match the SDK:\n  ${errors.slice(0, 5).join("\n  ")}\n  body: ${rec.body.slice(0, 300)}`);
    }
  }
  console.log(`checked ${lines.length} records (${Object.entries(counts).map(([k, n]) => `${n} ${k}`).join(", ")}), ${bad} mismatched`);
  if (lines.length === 0) { console.error("no records: was FAKE_UPSTREAM_WIRE_LOG set?"); process.exit(1); }
  process.exit(bad > 0 ? 1 : 0);
}
