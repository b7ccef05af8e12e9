#!/usr/bin/env bash
# bench/http/pg-bound.sh - what PostgreSQL's round trips alone allow for GET /api/tasks:
# the statements one request sends (docs/performance.md lists them), replayed bare by
# pgbench at the same concurrency against the same server, with no HTTP and no
# assistant-server. Set-up through the real server (a user, NTASKS tasks), which is then
# stopped, so the rows and plans are the ones the server reads. Run inside the test server:
#   CI=true scripts/pg-test-server.sh bench/http/pg-bound.sh
# Env: BIN_DIR (build/bin), CONNS (16), THREADS (2), SECONDS_EACH (5), ROUNDS (2),
#      NTASKS (20), PORT (18650).
# Prints one line per round and script: transactions per second = requests per second
# the database allows (each pgbench transaction is one request's statements).
set -euo pipefail
: "${ASSISTANT_TEST_PG_URL:?run inside scripts/pg-test-server.sh}"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN_DIR=${BIN_DIR:-$ROOT/build/bin}
PORT=${PORT:-18650}
NTASKS=${NTASKS:-20}
pg=$(dirname "$(ls /usr/lib/postgresql/*/bin/pgbench | tail -1)")
db=pg_bound_$$
url="${ASSISTANT_TEST_PG_URL%/*}/$db"
work=$(mktemp -d)
pid=
stop() {
  [[ -n $pid ]] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
  "$pg/psql" -q -X "$ASSISTANT_TEST_PG_URL" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap stop EXIT
"$pg/psql" -q -X "$ASSISTANT_TEST_PG_URL" -c "CREATE DATABASE $db" >/dev/null
"$BIN_DIR/assistant-server" --port "$PORT" --database "$url" --rate-limit-api 0 \
  --rate-limit-auth 0 --state-dir "$work/state" >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -fs "localhost:$PORT/readyz" >/dev/null && break; sleep 0.1; done
token=$(curl -fs "localhost:$PORT/api/auth/register" -H 'Content-Type: application/json' \
  -d '{"email":"bound@example.com","password":"correct horse battery","name":"B"}' | jq -er .access_token)
for i in $(seq "$NTASKS"); do
  curl -fs -o /dev/null "localhost:$PORT/api/tasks" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -d "{\"title\":\"seed task $i\"}"
done
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
user=$("$pg/psql" -X -At "$url" -c "SELECT user_id FROM tasks LIMIT 1")
session=$("$pg/psql" -X -At "$url" -c "SELECT id FROM sessions LIMIT 1")

# The list, as the server sends it (storage's SQL text; 51 = a page of 50 and one more).
cat >"$work/list.sql" <<SQL
SELECT id, user_id, title, description, completed, due_at, priority, created_at, updated_at FROM tasks WHERE user_id = '$user' AND (NULL::boolean IS NULL OR completed = NULL::boolean) AND (NULL::text IS NULL OR title ILIKE NULL::text ESCAPE '\\') AND (NULL::bigint IS NULL OR created_at > NULL::bigint OR (created_at = NULL::bigint AND id > NULL)) ORDER BY created_at, id LIMIT 51;
SQL
# The same list with the session check every request would make without the
# server's session cache (the cache answers from memory for up to 500 ms).
{ printf "SELECT id, user_id, created_at, last_used_at, expires_at, revoked_at, ip, user_agent FROM sessions WHERE id = '%s';\n" "$session"; cat "$work/list.sql"; } >"$work/session_list.sql"
# -M prepared: pgbench variables (-D) become the parameters.
sed -i "s/'$user'/:u/" "$work/list.sql" "$work/session_list.sql"
sed -i "s/'$session'/:s/" "$work/session_list.sql"
for round in $(seq "${ROUNDS:-2}"); do
  for f in list session_list; do
    tps=$(PGOPTIONS= "$pg/pgbench" -n -M prepared -c "${CONNS:-16}" -j "${THREADS:-2}" \
      -T "${SECONDS_EACH:-5}" -D u="$user" -D s="$session" -f "$work/$f.sql" "$url" 2>&1 | tee -a "$work/pgbench.log" |
      awk '/^tps/ {print $3}')
    printf 'round %s  %-13s %s tps\n' "$round" "$f" "$tps"
  done
done
