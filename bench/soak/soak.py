#!/usr/bin/python3
"""A mixed soak of assistant-server: auth, tasks, conversations, streamed
agent turns and clients that drop their stream mid-turn, for a given time,
while the server's resident memory and open file descriptors are sampled.

Fails (exit 1) on any unexpected answer, or when, after the warm-up, memory
grows by more than --rss-growth-mib or the server ends with more descriptors
open than it had once the warm-up load was running.

Usage, from the repository root after a Release build:
    bench/soak/soak.py                      # 10 minutes, 8 workers
    bench/soak/soak.py --minutes 1 --workers 4
Standard library only (Debian's /usr/bin/python3)."""

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, binary, workdir):
        self.port = free_port()
        self.log = open(os.path.join(workdir, "server.log"), "wb")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--database",
             "sqlite://" + os.path.join(workdir, "soak.db"),
             "--rate-limit-auth", "0", "--rate-limit-api", "0"],
            cwd=workdir, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                if self.call("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the server did not start; see server.log")

    def call(self, method, path, body=None, token=None, timeout=30):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = "Bearer " + token
        conn.request(method, path, json.dumps(body) if body is not None else None, headers)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        return r.status, data

    def sample(self):
        rss_kib = anon_kib = 0
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss_kib = int(line.split()[1])
                elif line.startswith("RssAnon:"):
                    anon_kib = int(line.split()[1])
        fds = len(os.listdir("/proc/%d/fd" % self.proc.pid))
        return rss_kib, fds, anon_kib

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        finally:
            self.log.close()


class Soak:
    def __init__(self, server, seconds):
        self.server = server
        self.stop_at = time.time() + seconds
        self.lock = threading.Lock()
        self.ops = {}
        self.errors = []
        self.counter = 0

    def unique(self):
        with self.lock:
            self.counter += 1
            return self.counter

    def expect(self, what, got, want):
        if got != want:
            with self.lock:
                self.errors.append("%s: %s, expected %s" % (what, got, want))
            return False
        return True

    def count(self, op):
        with self.lock:
            self.ops[op] = self.ops.get(op, 0) + 1

    def register(self):
        email = "soak%d-%d@example.com" % (os.getpid(), self.unique())
        status, body = self.server.call("POST", "/api/auth/register",
                                        {"email": email, "password": "soak password 1",
                                         "name": "Soak"})
        if not self.expect("register", status, 201):
            return None, None
        return email, json.loads(body)

    def auth_cycle(self):
        email, _ = self.register()
        if not email:
            return
        status, body = self.server.call("POST", "/api/auth/login",
                                        {"email": email, "password": "soak password 1"})
        if not self.expect("login", status, 200):
            return
        pair = json.loads(body)
        status, body = self.server.call("POST", "/api/auth/refresh",
                                        {"refresh_token": pair["refresh_token"]})
        if not self.expect("refresh", status, 200):
            return
        fresh = json.loads(body)
        status, _ = self.server.call("POST", "/api/auth/logout",
                                     {"refresh_token": fresh["refresh_token"]},
                                     fresh["access_token"])
        self.expect("logout", status, 204)
        status, _ = self.server.call("POST", "/api/auth/refresh",
                                     {"refresh_token": fresh["refresh_token"]})
        self.expect("refresh after logout", status, 401)
        self.count("auth")

    def tasks_cycle(self, token):
        status, body = self.server.call("POST", "/api/tasks", {"title": "soak task"}, token)
        if not self.expect("create task", status, 201):
            return
        task = json.loads(body)["task"]
        status, _ = self.server.call("GET", "/api/tasks?limit=20", None, token)
        self.expect("list tasks", status, 200)
        status, _ = self.server.call("PATCH", "/api/tasks/" + task["id"], {"completed": True},
                                     token)
        self.expect("complete task", status, 200)
        status, _ = self.server.call("DELETE", "/api/tasks/" + task["id"], None, token)
        self.expect("delete task", status, 204)
        self.count("tasks")

    def conversation_cycle(self, token):
        status, body = self.server.call("POST", "/api/conversations", {"title": "soak"}, token)
        if not self.expect("create conversation", status, 201):
            return
        conv = json.loads(body)["conversation"]
        status, _ = self.server.call("POST", "/api/agent/message",
                                     {"message": "list tasks", "conversation_id": conv["id"]},
                                     token)
        self.expect("agent message", status, 200)
        status, _ = self.server.call("DELETE", "/api/conversations/" + conv["id"], None, token)
        self.expect("delete conversation", status, 204)
        self.count("conversation")

    def stream_turn(self, token):
        status, body = self.server.call("POST", "/api/agent/message",
                                        {"message": "add task soak stream", "stream": True},
                                        token)
        if self.expect("stream status", status, 200):
            self.expect("stream ends with message.done", b"event: message.done" in body, True)
        self.count("stream")

    def dropped_stream(self, token):
        # A client that goes away as soon as the stream has begun.
        payload = json.dumps({"message": "list tasks", "stream": True}).encode()
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=30)
        s.sendall(b"POST /api/agent/message HTTP/1.1\r\nHost: soak\r\n"
                  b"Authorization: Bearer " + token.encode() + b"\r\n"
                  b"Content-Type: application/json\r\nContent-Length: " +
                  str(len(payload)).encode() + b"\r\n\r\n" + payload)
        first = s.recv(64)
        self.expect("dropped stream began", first.startswith(b"HTTP/1.1 200"), True)
        s.close()
        self.count("dropped")

    def worker(self):
        _, pair = self.register()
        if not pair:
            return
        token = pair["access_token"]
        born = time.time()
        while time.time() < self.stop_at:
            if time.time() - born > 600:  # access tokens last 15 minutes
                _, pair = self.register()
                token, born = pair["access_token"], time.time()
            r = random.random()
            try:
                if r < 0.05:
                    self.auth_cycle()
                elif r < 0.55:
                    self.tasks_cycle(token)
                elif r < 0.70:
                    self.conversation_cycle(token)
                elif r < 0.90:
                    self.stream_turn(token)
                else:
                    self.dropped_stream(token)
            except Exception as e:  # noqa: BLE001 - every surprise is a finding
                with self.lock:
                    self.errors.append("transport: %r" % e)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin", default=os.path.join(ROOT, "build/bin/assistant-server"))
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--sample-seconds", type=float, default=5)
    p.add_argument("--rss-growth-mib", type=float, default=32,
                   help="allowed growth of resident memory after the warm-up")
    args = p.parse_args()

    workdir = tempfile.mkdtemp(prefix="assistant-soak-")
    server = Server(args.bin, workdir)
    seconds = args.minutes * 60
    soak = Soak(server, seconds)
    threads = [threading.Thread(target=soak.worker, daemon=True) for _ in range(args.workers)]
    for t in threads:
        t.start()
    # The warm-up fills SQLite's page caches and the allocator's arenas.
    warmup_end = time.time() + max(10.0, seconds * 0.2)
    samples = []
    began = time.time()
    print("%8s %10s %10s %5s %s" % ("t_s", "rss_mib", "anon_mib", "fds", "cycles"))
    while any(t.is_alive() for t in threads):
        time.sleep(args.sample_seconds)
        rss, fds, anon = server.sample()
        samples.append((time.time() - began, rss, fds, time.time() >= warmup_end))
        with soak.lock:
            ops = sum(soak.ops.values())
        print("%8.0f %10.1f %10.1f %5d %d" % (samples[-1][0], rss / 1024, anon / 1024, fds, ops),
              flush=True)
    time.sleep(2)  # let dropped streams and idle connections close
    rss_end, fds_end, _ = server.sample()
    code = server.stop()

    after = [s for s in samples if s[3]]
    base = after[0] if after else samples[0]
    rss_growth_mib = (max(s[1] for s in after or samples) - base[1]) / 1024
    fds_warm = base[2]
    print("\ncycles: %s, unexpected answers: %d" % (json.dumps(soak.ops, sort_keys=True),
                                                   len(soak.errors)))
    print("rss after warm-up %.1f MiB, peak growth %.1f MiB (bound %.0f), at end %.1f MiB"
          % (base[1] / 1024, rss_growth_mib, args.rss_growth_mib, rss_end / 1024))
    print("fds under load after warm-up %d, at end (idle) %d" % (fds_warm, fds_end))
    print("server exit code %d" % code)
    failed = False
    if sum(soak.ops.values()) == 0:
        failed = True
        print("no operation completed")
    if soak.errors:
        failed = True
        print("%d unexpected answers, first: %s" % (len(soak.errors), soak.errors[:5]))
    if rss_growth_mib > args.rss_growth_mib:
        failed = True
        print("resident memory grew past the bound")
    if fds_end > fds_warm:
        failed = True
        print("descriptors left open after the load stopped")
    if code != 0:
        failed = True
        print("the server did not stop cleanly")
    if failed:
        print("server log kept in", workdir)
        return 1
    shutil.rmtree(workdir)
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
