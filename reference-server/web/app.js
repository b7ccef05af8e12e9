// The page: every piece of user or model text goes in with textContent,
// never as HTML, so a title like <img onerror=...> is shown, not run.
import { api, raw, readEvents, ApiError } from './api.js';

const $ = id => document.getElementById(id);
const RUN_KEY = 'assistant.run';
const SCOPES = ['tasks:read', 'tasks:write', 'conversations:read', 'conversations:write', 'agent',
  'user:read', 'user:write', 'apps', 'keys'];
let conversation = null, run = null, runAbort = null;

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}
function button(text, onClick) { const b = el('button', text); b.type = 'button'; b.addEventListener('click', onClick); return b; }
function showError(e) {
  const p = $('error');
  if (!e) { p.hidden = true; return; }
  p.textContent = e instanceof ApiError ? e.message : 'Something went wrong. Try again.';
  p.hidden = false;
  if (e instanceof ApiError && e.status === 401) signedOut();
}
// Runs an action, turning its failure into the page's error line.
const guard = fn => async (...a) => { try { showError(null); await fn(...a); } catch (e) { showError(e); } };

// ---- views and auth ----
function show(view) {
  for (const s of document.querySelectorAll('.view')) s.hidden = s.id !== view;
  for (const b of document.querySelectorAll('#nav [data-view]')) b.setAttribute('aria-current', b.dataset.view === view);
  ({ chat: loadChat, tasks: loadTasks, keys: loadKeys, sessions: loadSessions })[view]?.().catch(showError);
}
// Whether this browser signed in last (not a secret: the tokens are HttpOnly
// cookies), so that a signed-out start asks the server nothing.
const SIGNED_IN = 'assistant.signedIn';
function signedOut() { localStorage.removeItem(SIGNED_IN); $('nav').hidden = true; for (const s of document.querySelectorAll('.view')) s.hidden = true; $('auth').hidden = false; form('signin'); }
function signedIn() { localStorage.setItem(SIGNED_IN, '1'); $('auth').hidden = true; $('nav').hidden = false; show('chat'); }
function form(id) { for (const f of $('auth').querySelectorAll('form')) f.hidden = f.id !== id; }

for (const b of document.querySelectorAll('[data-form]')) b.addEventListener('click', () => form(b.dataset.form));
for (const b of document.querySelectorAll('[data-view]')) b.addEventListener('click', () => show(b.dataset.view));
const fields = f => Object.fromEntries(new FormData(f));
$('signin').addEventListener('submit', guard(async e => { e.preventDefault(); await api('POST', '/api/auth/login', fields(e.target)); e.target.reset(); signedIn(); }));
$('signup').addEventListener('submit', guard(async e => {
  e.preventDefault(); const b = fields(e.target); if (!b.name) delete b.name;
  await api('POST', '/api/auth/register', b); e.target.reset(); signedIn();
}));
$('forgot').addEventListener('submit', guard(async e => { e.preventDefault(); await api('POST', '/api/auth/forgot-password', fields(e.target)); $('forgot-done').hidden = false; }));
$('signout').addEventListener('click', guard(async () => { await api('POST', '/api/auth/logout'); sessionStorage.removeItem(RUN_KEY); signedOut(); }));

// ---- tasks ----
function taskItem(t, compact) {
  const li = el('li', undefined, t.status === 'completed' ? 'done' : '');
  const box = el('input'); box.type = 'checkbox'; box.checked = t.status === 'completed';
  box.setAttribute('aria-label', 'Completed');
  box.addEventListener('change', guard(async () => { await api('PATCH', `/api/tasks/${t.id}`, { status: box.checked ? 'completed' : 'pending' }); refreshTasks(); }));
  const title = el('span', t.title, 'title');
  li.append(box, title);
  if (!compact) {
    li.append(button('Edit', guard(async () => {
      const v = prompt('Task title', t.title); if (v === null || !v.trim()) return;
      await api('PATCH', `/api/tasks/${t.id}`, { title: v }); refreshTasks();
    })), button('Delete', guard(async () => { await api('DELETE', `/api/tasks/${t.id}`); refreshTasks(); })));
  }
  return li;
}
let tasksRequest = 0;  // as conversationsRequest: the latest answer wins
async function loadTasks() {
  const mine = ++tasksRequest;
  const { tasks } = await api('GET', '/api/tasks?status=all&limit=200');
  if (mine !== tasksRequest) return;
  $('task-list').replaceChildren(...tasks.map(t => taskItem(t, false)));
  $('side-task-list').replaceChildren(...tasks.map(t => taskItem(t, true)));
  $('task-empty').hidden = tasks.length > 0;
}
const refreshTasks = () => loadTasks().catch(showError);
$('task-add').addEventListener('submit', guard(async e => { e.preventDefault(); await api('POST', '/api/tasks', fields(e.target)); e.target.reset(); refreshTasks(); }));
$('task-clear').addEventListener('click', guard(async () => { await api('POST', '/api/tasks/clear-completed'); refreshTasks(); }));

// ---- API keys ----
$('scopes').replaceChildren(...SCOPES.map(s => {
  const l = el('label'); const c = el('input'); c.type = 'checkbox'; c.name = 'scope'; c.value = s; l.append(c, ' ' + s); return l;
}));
async function loadKeys() {
  const { api_keys } = await api('GET', '/api/auth/api-keys');
  $('key-list').replaceChildren(...api_keys.map(k => {
    const li = el('li'); li.append(el('span', `${k.name} (${k.prefix}…) ${k.scopes.join(' ')}`), button('Revoke', guard(async () => { await api('DELETE', `/api/auth/api-keys/${k.id}`); loadKeys(); })));
    return li;
  }));
  $('key-empty').hidden = api_keys.length > 0;
}
$('key-add').addEventListener('submit', guard(async e => {
  e.preventDefault();
  const scopes = [...e.target.querySelectorAll('[name=scope]:checked')].map(c => c.value);
  const r = await api('POST', '/api/auth/api-keys', { name: e.target.name.value, scopes });
  $('key-value').textContent = r.key; $('key-new').hidden = false; e.target.reset(); loadKeys();
}));
$('key-copy').addEventListener('click', () => navigator.clipboard?.writeText($('key-value').textContent).catch(() => {}));

// ---- sessions ----
async function loadSessions() {
  const sessions = (await api('GET', '/api/auth/sessions')).sessions.filter(s => !s.revoked_at);
  $('session-list').replaceChildren(...sessions.map(s => {
    const li = el('li', `${s.user_agent || 'unknown device'} · ${s.ip || ''} · since ${s.created_at}${s.current ? ' (this one)' : ''}`);
    if (!s.current) li.append(button('Sign out', guard(async () => { await api('DELETE', `/api/auth/sessions/${s.id}`); loadSessions(); })));
    return li;
  }));
}
$('session-others').addEventListener('click', guard(async () => {
  const { sessions } = await api('GET', '/api/auth/sessions');
  for (const s of sessions) if (!s.current && !s.revoked_at) await api('DELETE', `/api/auth/sessions/${s.id}`);
  loadSessions();
}));

// ---- conversations ----
// Answers can arrive out of order (a search typed while a reload of the
// list is in flight): only the latest request may fill the list.
let conversationsRequest = 0;
async function loadConversations() {
  const mine = ++conversationsRequest;
  const q = $('conv-search').value.trim();
  const { conversations } = await api('GET', '/api/conversations' + (q ? `?q=${encodeURIComponent(q)}` : ''));
  if (mine !== conversationsRequest) return;
  $('conv-list').replaceChildren(...conversations.map(c => {
    const li = el('li'); const b = button(c.title || 'Untitled', () => openConversation(c).catch(showError));
    if (conversation?.id === c.id) b.setAttribute('aria-current', 'true');
    li.append(b); return li;
  }));
  $('conv-empty').hidden = conversations.length > 0;
}
$('conv-search').addEventListener('input', () => loadConversations().catch(showError));
$('conv-new').addEventListener('click', () => { conversation = null; $('messages').replaceChildren(); $('conv-head').hidden = true; $('chat-empty').hidden = false; $('input').focus(); });
$('conv-rename').addEventListener('click', guard(async () => { await api('PATCH', `/api/conversations/${conversation.id}`, { title: $('conv-title').value }); loadConversations(); }));
$('conv-delete').addEventListener('click', guard(async () => {
  if (!confirm('Delete this conversation?')) return;
  await api('DELETE', `/api/conversations/${conversation.id}`); $('conv-new').click(); loadConversations();
}));

function messageItem(m) {
  const li = el('li', undefined, `msg ${m.role}`);
  li.append(el('div', m.content || '', 'text'));
  for (const t of m.tool_calls || []) li.append(el('div', `tool: ${t.name}`, 'tool'));
  if (m.id && conversation) li.append(forkButton(m.id));
  return li;
}
function forkButton(messageId) {
  return button('Fork from here', guard(async () => {
    const { conversation: c } = await api('POST', `/api/conversations/${conversation.id}/fork`, { message_id: messageId });
    await loadConversations(); await openConversation(c);
  }));
}
async function openConversation(c) {
  conversation = c;
  const { messages } = await api('GET', `/api/conversations/${c.id}/messages?limit=200`);
  $('messages').replaceChildren(...messages.filter(m => m.role === 'user' || m.role === 'assistant').map(messageItem));
  $('conv-head').hidden = false; $('conv-title').value = c.title || ''; $('chat-empty').hidden = messages.length > 0;
  loadConversations().catch(showError);
}
async function loadChat() {
  await Promise.all([loadConversations(), loadTasks()]);
  const saved = JSON.parse(sessionStorage.getItem(RUN_KEY) || 'null');
  if (!saved || run) return;
  const { conversation: c } = await api('GET', `/api/conversations/${saved.conversation}`);
  await openConversation(c);
  resumeRun(saved);
}

// ---- the agent turn, streamed ----
function streaming(on) { $('send').disabled = on; $('stop').disabled = !on; }
function follow(res, reply) {
  const text = reply.querySelector('.text');
  return readEvents(res, (name, d, id) => {
    if (name === 'message.start') {
      run = { id: d.run_id, conversation: d.conversation_id, text: '' };
      if (!conversation) { conversation = { id: d.conversation_id }; loadConversations().catch(showError); }
    } else if (name === 'message.delta') { text.textContent += d.content; if (run) run.text = text.textContent; }
    else if (name === 'tool.call') reply.insertBefore(el('div', `tool: ${d.name} ${JSON.stringify(d.arguments)}`, 'tool'), text);
    else if (name === 'tool.result') { if (d.name.startsWith('task') || d.name.includes('task')) refreshTasks(); }
    else if (name === 'message.done') { text.textContent = d.message.content; if (conversation) reply.append(forkButton(d.message.id)); }
    else if (name === 'error') reply.append(el('div', d.error?.message || 'The reply failed.', 'tool'));
    // What a reload needs to go on: the run, the last event seen, the text so far.
    if (run && id) { run.last = id; sessionStorage.setItem(RUN_KEY, JSON.stringify(run)); }
  });
}
async function turn(start, reply) {
  streaming(true); runAbort = new AbortController();
  try { await follow(await start(runAbort.signal), reply); } catch (e) { if (e.name !== 'AbortError') showError(e); }
  sessionStorage.removeItem(RUN_KEY); run = null; streaming(false); refreshTasks();
}
async function sendMessage() {
  const message = $('input').value.trim();
  if (!message || !$('stop').disabled) return;
  $('input').value = ''; $('chat-empty').hidden = true;
  $('messages').append(messageItem({ role: 'user', content: message }));
  const reply = messageItem({ role: 'assistant', content: '' }); $('messages').append(reply);
  await turn(signal => raw('POST', '/api/agent/message',
    { message, stream: true, ...(conversation ? { conversation_id: conversation.id } : {}) }, { Accept: 'text/event-stream' }, signal), reply);
}
// After a reload mid-turn: replay what came after the last event seen.
// The stored messages already hold the user's message (and the reply, when
// the run ended in the meantime: then the replay's message.done replaces it).
function resumeRun(saved) {
  run = saved;
  const last = $('messages').lastElementChild;
  if (last?.classList.contains('assistant')) last.remove();
  const reply = messageItem({ role: 'assistant', content: saved.text || '' }); $('messages').append(reply);
  $('chat-empty').hidden = true;
  const lastId = saved.last;
  turn(signal => raw('GET', `/api/agent/runs/${saved.id}/events`, undefined, lastId ? { 'Last-Event-ID': lastId } : {}, signal), reply);
}
async function stop() { if (run) await api('POST', `/api/agent/runs/${run.id}/cancel`).catch(showError); }
$('composer').addEventListener('submit', e => { e.preventDefault(); sendMessage(); });
$('stop').addEventListener('click', stop);
$('input').addEventListener('keydown', e => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); sendMessage(); }
});
document.addEventListener('keydown', e => { if (e.key === 'Escape') stop(); });

// ---- start ----
if (localStorage.getItem(SIGNED_IN)) api('GET', '/api/user/me').then(signedIn, signedOut); else signedOut();
performance.mark('interactive');  // what docs/performance.md reports
