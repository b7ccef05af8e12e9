#!/usr/bin/env python3
"""bench/storage/fts_optimize.py - what purging deleted words from the search index costs.

Why the FTS5 'optimize' runs once per Checkpoint() and not per delete
(docs/storage.md "Deletes are hard"): it rewrites the whole index, so its cost
follows the index size, not the number of deletes it purges. With the
messages_fts schema of sqlite_storage.cpp (WAL, secure_delete=ON,
synchronous=NORMAL, 64-message batches) through Python's sqlite3 (the system
SQLite), it prints the time of 'optimize' after 1 and after 100 deletes, and
of the wal_checkpoint(TRUNCATE) after it, for each index size.
Usage: python3 bench/storage/fts_optimize.py [messages ...]   (default 10000 100000)
"""
import os
import random
import sqlite3
import sys
import tempfile
import time


def run(n, words, tmp):
    path = os.path.join(tmp, f"opt_{n}.db")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA secure_delete=ON")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE VIRTUAL TABLE messages_fts USING fts5(content, owner, tokenize='unicode61')")
    db.execute("BEGIN")
    for i in range(1, n + 1):
        text = " ".join(random.choice(words) for _ in range(20))
        db.execute("INSERT INTO messages_fts(rowid, content, owner) VALUES (?, ?, ?)",
                   (i, text, "u%d" % (i % 100)))
        if i % 64 == 0:
            db.execute("COMMIT")
            db.execute("BEGIN")
    db.execute("COMMIT")
    db.execute("INSERT INTO messages_fts(messages_fts) VALUES ('optimize')")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = os.path.getsize(path)
    for deletes in (1, 100):
        db.execute("BEGIN")
        for rowid in random.sample(range(1, n + 1), deletes):
            db.execute("DELETE FROM messages_fts WHERE rowid = ?", (rowid,))
        db.execute("COMMIT")
        t = time.perf_counter()
        db.execute("INSERT INTO messages_fts(messages_fts) VALUES ('optimize')")
        optimize = time.perf_counter() - t
        t = time.perf_counter()
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        checkpoint = time.perf_counter() - t
        print(f"sqlite {sqlite3.sqlite_version}: {n} messages x 20 words, db {size / 1e6:.1f} MB: "
              f"optimize after {deletes} deletes {optimize * 1000:.0f} ms, "
              f"checkpoint {checkpoint * 1000:.0f} ms")
    db.close()


def main():
    random.seed(1)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(random.choice(letters) for _ in range(random.randint(3, 10)))
             for _ in range(20000)]
    sizes = [int(a) for a in sys.argv[1:]] or [10000, 100000]
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            run(n, words, tmp)


if __name__ == "__main__":
    main()
