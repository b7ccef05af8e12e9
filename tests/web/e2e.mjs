// End-to-end tests of the web app in Debian's chromium (playwright-core, no
// browser download). run.sh starts two servers: RULES_URL (the rules agent,
// which adds tasks by chat) and SLOW_URL (an OpenAI provider on a fake
// upstream that streams SLOW_TEXT slowly, for reload and stop mid-reply).
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';

const { RULES_URL, SLOW_URL, SLOW_TEXT, SHOTS_DIR, PERF_FILE } = process.env;
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
const errors = [];
let failed = false;

async function newPage(viewport = { width: 1280, height: 800 }) {
  const page = await (await browser.newContext({ viewport })).newPage();
  page.on('console', m => { if (m.type() === 'error') errors.push(`${page.url()}: ${m.text()}`); });
  page.on('pageerror', e => errors.push(`${page.url()}: ${e.message}`));
  return page;
}
async function step(name, fn) {
  const t = Date.now();
  try { await fn(); console.log(`ok   ${name} (${Date.now() - t} ms)`); } catch (e) { failed = true; console.log(`FAIL ${name}\n${e.stack}`); }
}
async function signUp(page, base, email) {
  await page.goto(base);
  await page.click('#signin [data-form=signup]');
  await page.fill('#signup [name=email]', email);
  await page.fill('#signup [name=password]', 'correct horse battery');
  await page.press('#signup [name=password]', 'Enter');
  await page.waitForSelector('#nav:not([hidden])');
}
const shot = (page, name) => SHOTS_DIR && page.screenshot({ path: `${SHOTS_DIR}/web-${name}.png` });

const page = await newPage();

await step('page weight and time to interactive', async () => {
  // A first load warms the browser up; the second, in a fresh context (an
  // empty cache), is measured. app.js marks "interactive" once its handlers
  // are attached and the sign-in form is shown.
  await page.goto(RULES_URL);
  const fresh = await newPage();
  await fresh.goto(RULES_URL);
  await fresh.waitForSelector('#signin:not([hidden])');
  const m = await fresh.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const res = performance.getEntriesByType('resource');
    return { tti: performance.getEntriesByName('interactive')[0].startTime, bytes: nav.encodedBodySize + res.reduce((s, r) => s + r.encodedBodySize, 0),
      raw: nav.decodedBodySize + res.reduce((s, r) => s + r.decodedBodySize, 0), files: res.length + 1 };
  });
  const line = `page: ${m.files} files, ${m.bytes} bytes gzipped (${m.raw} uncompressed); sign-in form interactive ${m.tti.toFixed(0)} ms after navigation start`;
  console.log(line);
  if (PERF_FILE) writeFileSync(PERF_FILE, line + '\n');
  assert.ok(m.bytes < 100 * 1024);
  await shot(page, 'signin-desktop');
});

await step('sign up', () => signUp(page, RULES_URL, 'ann@example.com'));

await step('a task added by chat appears in the task list', async () => {
  await page.fill('#input', 'add task buy milk');
  await page.press('#input', 'Enter');
  await page.waitForSelector('#side-task-list li:has-text("buy milk")', { timeout: 10000 });
  assert.match(await page.textContent('#messages'), /tool: /);
  await page.waitForSelector('#stop:disabled');
  await shot(page, 'chat-desktop');
});

await step('search a conversation', async () => {
  await page.fill('#conv-search', 'milk');
  await page.waitForFunction(() => document.querySelectorAll('#conv-list li').length === 1);
  await page.fill('#conv-search', 'nothingmatcheszz');
  await page.waitForSelector('#conv-empty:not([hidden])');
  await page.fill('#conv-search', '');
});

await step('a task titled with HTML is shown as text', async () => {
  const title = '<img src=x onerror=window.__xss=1>';
  await page.click('[data-view=tasks]');
  await page.fill('#task-add [name=title]', title);
  await page.press('#task-add [name=title]', 'Enter');
  await page.waitForSelector(`#task-list .title:text-is("${title}")`);
  assert.equal(await page.locator('#task-list img').count(), 0);
  assert.equal(await page.evaluate(() => window.__xss), undefined);
  await shot(page, 'tasks-desktop');
});

await step('create and revoke an API key', async () => {
  await page.click('[data-view=keys]');
  await page.waitForSelector('#key-empty:not([hidden])');
  await page.fill('#key-add [name=name]', 'ci key');
  await page.check('#scopes input[value="tasks:read"]');
  await page.click('#key-add button');
  await page.waitForSelector('#key-new:not([hidden])');
  assert.ok((await page.textContent('#key-value')).length > 20);
  await page.waitForSelector('#key-list li:has-text("ci key")');
  await shot(page, 'keys-desktop');
  await page.click('#key-list li button:text("Revoke")');
  await page.waitForSelector('#key-empty:not([hidden])');
});

await step('a wrong password gets a human message', async () => {
  // Not watched for console errors: the 401 is the point.
  const other = await (await browser.newContext()).newPage();
  await other.goto(RULES_URL);
  await other.fill('#signin [name=email]', 'ann@example.com');
  await other.fill('#signin [name=password]', 'not the password');
  await other.press('#signin [name=password]', 'Enter');
  await other.waitForSelector('#error:has-text("Wrong email or password.")');
  await other.context().close();
});

await step('sessions: sign out everywhere else', async () => {
  // Not watched for console errors: its failed requests after the revocation are the point.
  const other = await (await browser.newContext()).newPage();
  await other.goto(RULES_URL);
  await other.fill('#signin [name=email]', 'ann@example.com');
  await other.fill('#signin [name=password]', 'correct horse battery');
  await other.press('#signin [name=password]', 'Enter');
  await other.waitForSelector('#nav:not([hidden])');
  await page.click('[data-view=sessions]');
  await page.waitForFunction(() => document.querySelectorAll('#session-list li').length === 2);
  await page.click('#session-others');
  await page.waitForFunction(() => document.querySelectorAll('#session-list li').length === 1);
  assert.match(await page.textContent('#session-list'), /this one/);
  // The other browser's session is revoked at once: its next request shows sign-in.
  await other.click('[data-view=tasks]');
  await other.waitForSelector('#signin:not([hidden])');
  await other.context().close();
});

await step('360 px views', async () => {
  await page.setViewportSize({ width: 360, height: 740 });
  await page.click('[data-view=chat]');
  await page.waitForSelector('#conv-list li');
  await shot(page, 'chat-360');
  await page.click('[data-view=tasks]');
  await shot(page, 'tasks-360');
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 360));
});

const slow = await newPage();
const reply = () => slow.locator('#messages .msg.assistant .text').last();

await step('reload in the middle of a streamed reply, and see it finish', async () => {
  await signUp(slow, SLOW_URL, 'bob@example.com');
  await slow.fill('#input', 'tell me a story');
  await slow.press('#input', 'Enter');
  await slow.waitForFunction(() => [...document.querySelectorAll('.msg.assistant .text')].pop()?.textContent.length > 10);
  await slow.reload();
  await slow.waitForSelector('#stop:enabled');
  await slow.waitForSelector('#stop:disabled', { timeout: 30000 });
  assert.equal(await reply().textContent(), SLOW_TEXT);
});

await step('stop a reply (Escape)', async () => {
  await slow.fill('#input', 'another one');
  await slow.press('#input', 'Enter');
  await slow.waitForFunction(() => [...document.querySelectorAll('.msg.assistant .text')].pop()?.textContent.length > 10);
  await slow.keyboard.press('Escape');
  await slow.waitForSelector('#stop:disabled', { timeout: 5000 });
  assert.ok((await reply().textContent()).length < SLOW_TEXT.length);
});

await step('no console errors on any page', async () => { assert.deepEqual(errors, []); });
await browser.close();
process.exit(failed ? 1 : 0);
