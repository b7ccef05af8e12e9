// Drives assistant-server's OpenAI-compatible endpoint with the official
// `openai` npm package, unchanged: models.list, a plain create, a
// `stream: true` iteration and the chat.completions.stream() helper with
// finalChatCompletion(), plus the SDK's error classes. run.sh starts the
// server and passes OPENAI_BASE_URL and OPENAI_API_KEY; any failed check
// exits non-zero.
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const baseURL = process.env.OPENAI_BASE_URL;
const apiKey = process.env.OPENAI_API_KEY;
assert.ok(baseURL, 'OPENAI_BASE_URL is not set');
assert.ok(apiKey, 'OPENAI_API_KEY is not set');
const MODEL = 'libassistant';
// No retries: a failure should show as itself, not as a slow test.
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 30_000 });

async function check(name, fn) {
  try {
    await fn();
    console.log(`ok   ${name}`);
  } catch (err) {
    console.error(`FAIL ${name}`);
    throw err;
  }
}

const user = (content) => [{ role: 'user', content }];

await check('models.list and models.retrieve', async () => {
  const ids = [];
  for await (const model of client.models.list()) {
    assert.equal(model.object, 'model');
    assert.equal(typeof model.created, 'number');
    assert.equal(typeof model.owned_by, 'string');
    ids.push(model.id);
  }
  assert.deepEqual(ids, [MODEL]);
  const one = await client.models.retrieve(MODEL);
  assert.equal(one.id, MODEL);
});

let plainList = '';
await check('chat.completions.create (not streamed) runs the agent and its tools', async () => {
  const added = await client.chat.completions.create({ model: MODEL, messages: user('add task buy milk') });
  assert.equal(added.object, 'chat.completion');
  assert.match(added.id, /^chatcmpl-/);
  assert.equal(added.model, MODEL);
  assert.equal(added.choices.length, 1);
  assert.equal(added.choices[0].finish_reason, 'stop');
  assert.equal(added.choices[0].message.role, 'assistant');
  assert.match(added.choices[0].message.content, /buy milk/);
  assert.equal(added.usage.total_tokens, added.usage.prompt_tokens + added.usage.completion_tokens);

  const listed = await client.chat.completions.create({
    model: MODEL,
    messages: [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'add task buy milk' },
      { role: 'assistant', content: added.choices[0].message.content },
      { role: 'user', content: [{ type: 'text', text: 'list tasks' }] },
    ],
  });
  plainList = listed.choices[0].message.content;
  assert.match(plainList, /buy milk/);
});

await check('create({stream: true}) yields chunks whose deltas make the plain reply', async () => {
  const stream = await client.chat.completions.create({
    model: MODEL,
    messages: user('list tasks'),
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let finish = null;
  let usage = null;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks += 1;
    assert.equal(chunk.object, 'chat.completion.chunk');
    assert.equal(chunk.model, MODEL);
    for (const choice of chunk.choices) {
      text += choice.delta.content ?? '';
      finish = choice.finish_reason ?? finish;
      assert.equal(choice.delta.tool_calls, undefined);
    }
    if (chunk.usage) usage = chunk.usage;
  }
  assert.ok(chunks >= 3, `only ${chunks} chunks`);
  assert.equal(text, plainList);
  assert.equal(finish, 'stop');
  assert.ok(usage && usage.total_tokens === usage.prompt_tokens + usage.completion_tokens);
});

await check('chat.completions.stream() helper: content events and finalChatCompletion()', async () => {
  const runner = client.chat.completions.stream({
    model: MODEL,
    messages: user('list tasks'),
    stream_options: { include_usage: true },
  });
  let deltas = '';
  runner.on('content', (delta) => {
    deltas += delta;
  });
  const final = await runner.finalChatCompletion();
  assert.equal(final.object, 'chat.completion');
  assert.match(final.id, /^chatcmpl-/);
  assert.equal(final.choices[0].finish_reason, 'stop');
  assert.equal(final.choices[0].message.role, 'assistant');
  assert.equal(final.choices[0].message.content, plainList);
  assert.equal(deltas, plainList);
  assert.ok(final.usage && final.usage.total_tokens > 0);
  assert.equal(await runner.finalContent(), plainList);
});

await check('errors arrive as the SDK error classes, with code and param', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'gpt-4o', messages: user('hi') }),
    (err) => err instanceof OpenAI.NotFoundError && err.code === 'model_not_found',
  );
  await assert.rejects(
    client.chat.completions.create({ model: MODEL, messages: [{ role: 'assistant', content: 'hi' }] }),
    // BadRequestError, as OpenAI's own API gives for an invalid request.
    (err) => err instanceof OpenAI.BadRequestError && err.status === 400 && err.param === 'messages[0].role',
  );
  // The same refusal, before any chunk, from the streaming helper.
  await assert.rejects(
    client.chat.completions.stream({ model: 'gpt-4o', messages: user('hi') }).finalChatCompletion(),
    (err) => err instanceof OpenAI.NotFoundError,
  );
  // The rules provider does not sample: a sampling parameter is refused,
  // named, rather than accepted and ignored.
  await assert.rejects(
    client.chat.completions.create({ model: MODEL, messages: user('list tasks'), temperature: 0 }),
    (err) => err instanceof OpenAI.BadRequestError && err.param === 'temperature' &&
      err.code === 'unsupported_parameter',
  );
  const stranger = new OpenAI({ baseURL, apiKey: 'ak_not_a_key', maxRetries: 0 });
  await assert.rejects(stranger.models.list(), (err) => err instanceof OpenAI.AuthenticationError);
});

console.log('openai-node: all checks passed');
