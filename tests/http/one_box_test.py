#!/usr/bin/env python3
"""scripts/one-box.sh run for real on free ports: a login and an app proxy
call through its gateway, then SIGINT stops every process it started and
leaves nothing listening. Usage: one_box_test.py BIN_DIR WORK_DIR"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def descendants(pid):
    """Every process below `pid`, read from /proc."""
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                stat = f.read()
        except OSError:
            continue
        # The command may hold spaces and parentheses: fields follow the last ')'.
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    out, todo = set(), [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in out:
                out.add(child)
                todo.append(child)
    return out


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[-1][0] != "Z"
    except OSError:
        return False


def call(port, method, path, body=None, token=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method,
                                 data=json.dumps(body).encode() if body is not None else None)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, None


def main():
    bin_dir, work = sys.argv[1], sys.argv[2]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    gateway, s1, s2, app = (free_port() for _ in range(4))
    env = dict(os.environ, ONE_BOX_DIR=work, ONE_BOX_BIN=bin_dir, ONE_BOX_PORT=str(gateway),
               ONE_BOX_SERVER_PORTS="%d %d" % (s1, s2), ONE_BOX_APP_PORT=str(app))
    out = open(os.path.join(work, "one-box.out"), "w")
    # SIGINT as a terminal's Ctrl-C finds it: not ignored.
    box = subprocess.Popen([os.path.join(ROOT, "scripts/one-box.sh")], env=env, stdout=out,
                           stderr=subprocess.STDOUT,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = set()
    failures = []

    def check(ok, what):
        if not ok:
            failures.append(what)
            print("FAIL:", what, file=sys.stderr)

    def log():
        with open(os.path.join(work, "one-box.out")) as f:
            return f.read()

    try:
        deadline = time.time() + 120
        while time.time() < deadline and "gateway on" not in log():
            if box.poll() is not None:
                break
            seen |= descendants(box.pid)
            time.sleep(0.2)
        if "gateway on" not in log():
            print(log(), file=sys.stderr)
            for name in sorted(os.listdir(work)):
                if name.endswith(".log"):
                    print("--", name, open(os.path.join(work, name)).read()[-2000:], file=sys.stderr)
            return 1
        seen |= descendants(box.pid)
        credentials = {"email": "box@example.com", "password": "correct horse battery"}
        status, reg = call(gateway, "POST", "/api/auth/register", credentials)
        check(status == 201, "register through the gateway: %s" % status)
        status, login = call(gateway, "POST", "/api/auth/login", credentials)
        check(status == 200 and login and login.get("access_token"), "login: %s" % status)
        token = login["access_token"] if login else ""
        status, echoed = call(gateway, "POST", "/api/apps/identity/proxy/echo?q=1", {"a": 1}, token)
        # 200 only when the app verified the identity token against the
        # servers' JWKS (it answers 401 otherwise).
        check(status == 200, "app proxy call: %s" % status)
        check(echoed is not None and echoed.get("path") == "/echo?q=1", "app saw: %s" % echoed)
        seen |= descendants(box.pid)
    finally:
        box.send_signal(signal.SIGINT)
        try:
            code = box.wait(timeout=60)
        except subprocess.TimeoutExpired:
            box.kill()
            code = None
    check(code == 130, "one-box exit code after SIGINT: %s" % code)
    check(len(seen) >= 5, "expected servers, app, gateway among %s" % sorted(seen))
    time.sleep(0.5)
    left = sorted(p for p in seen if alive(p))
    check(not left, "processes left: %s" % left)
    ports = [gateway, s1, s2, app]
    m = re.search(r"database postgresql://[^:/]*:(\d+)/", log())
    if m:
        ports.append(int(m.group(1)))
    check(not [p for p in ports if listening(p)],
          "still listening: %s" % [p for p in ports if listening(p)])
    print(log())
    print("one-box: %d checks failed" % len(failures) if failures else "one-box: ok")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
