#!/usr/bin/env python3
"""bench/storage/fts_batching.py - what indexing messages for search costs per write.

Why messages enter `messages_fts` in batches (docs/storage.md "Search"): FTS5
writes a new index segment for every transaction that adds to it. Using the
messages schema of sqlite_storage.cpp (WAL, synchronous=NORMAL) through
Python's sqlite3 (the system SQLite), it prints:
  (1) a turn's two-message transaction with and without the per-insert FTS
      trigger: WAL frames and CPU per transaction;
  (2) FTS inserts alone in transactions of 2, 6, 50 and 300 messages: WAL
      frames and CPU per message.
Usage: python3 bench/storage/fts_batching.py [transactions]   (default 500)
"""
import os
import sqlite3
import sys
import tempfile
import time
import uuid

N = int(sys.argv[1]) if len(sys.argv) > 1 else 500
REPLY = "Here are your tasks:\n" + "\n".join(f"{i}. seed task {i}" for i in range(1, 21))
TOOL_CALLS = "x" * 4500  # a 20-task tool result's size


def open_db(path):
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA wal_autocheckpoint=0")  # count every frame written
    return db


def frames(db):
    return db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]


def turns(dir_, fts):
    db = open_db(os.path.join(dir_, f"turns-{fts}.db"))
    db.executescript("""
      CREATE TABLE messages (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
        conversation_id TEXT NOT NULL, user_id TEXT NOT NULL, role TEXT NOT NULL,
        content TEXT NOT NULL, tool_calls TEXT, status TEXT, created_at INTEGER);
      CREATE INDEX messages_conversation ON messages(conversation_id, seq);
      CREATE INDEX messages_user ON messages(user_id);""")
    if fts:
        db.executescript("""
          CREATE VIRTUAL TABLE messages_fts USING fts5(content, owner, tokenize = 'unicode61');
          CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages BEGIN
            INSERT INTO messages_fts(rowid, content, owner)
              VALUES (new.seq, new.content, 'u' || hex(new.user_id));
          END;""")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    insert = ("INSERT INTO messages(id, conversation_id, user_id, role, content, tool_calls, "
              "status, created_at) VALUES (?,?,?,?,?,?,?,?)")
    t0 = time.process_time()
    for i in range(N):
        db.execute("BEGIN IMMEDIATE")
        db.execute(insert, (str(uuid.uuid4()), "c1", "u1", "user", "list tasks", None, "completed", i))
        db.execute(insert, (str(uuid.uuid4()), "c1", "u1", "assistant", REPLY, TOOL_CALLS, "completed", i))
        db.execute("COMMIT")
    cpu = time.process_time() - t0
    print(f"turn, FTS trigger {'on ' if fts else 'off'}: {frames(db) / N:5.1f} WAL frames, "
          f"{cpu / N * 1e6:5.0f} us CPU per transaction")


def batches(dir_, batch):
    db = open_db(os.path.join(dir_, f"batch-{batch}.db"))
    db.execute("CREATE VIRTUAL TABLE messages_fts USING fts5(content, owner, tokenize = 'unicode61')")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    total = (N // batch + 1) * batch
    t0 = time.process_time()
    for start in range(0, total, batch):
        db.execute("BEGIN IMMEDIATE")
        for i in range(start, start + batch):
            db.execute("INSERT INTO messages_fts(rowid, content, owner) VALUES (?, ?, 'u7531')",
                       (i, REPLY if i % 2 else "list tasks"))
        db.execute("COMMIT")
    cpu = time.process_time() - t0
    print(f"FTS inserts {batch:3d} per transaction: {frames(db) / total:5.2f} WAL frames, "
          f"{cpu / total * 1e6:5.0f} us CPU per message")


with tempfile.TemporaryDirectory() as d:
    print(f"SQLite {sqlite3.sqlite_version}, {N} transactions")
    for fts in (False, True):
        turns(d, fts)
    for b in (2, 6, 50, 300):
        batches(d, b)
