#!/usr/bin/python3
"""An app behind assistant-server's app proxy (docs/apps.md).

It trusts no network and shares no secret with the server: every request
must carry X-Assistant-Identity, an EdDSA token the server signed, which it
checks with the server's public keys (/.well-known/jwks.json) alone: the
signature, `aud` (this app's id), `exp`, and that X-Assistant-User-Id and
X-Assistant-App-Id agree with the token. A request that fails gets 401.

    identity_app.py --app-id notes --jwks http://127.0.0.1:8000/.well-known/jwks.json

Routes, by their last path segment, for trying the proxy out (the http
tests use them):
  /events?n=3&gap_ms=300   Server-Sent Events, one every gap_ms
  /stall?ms=5000           answers after ms milliseconds
  /bytes?n=100000          n bytes of 'x'
  anything else            echoes method, path, query, headers, body and the
                           verified claims as JSON; ?status=N answers N
Needs python3-jwt and python3-cryptography (Debian packages).
"""
import argparse
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import jwt


class App(BaseHTTPRequestHandler):
    # Set by main().
    jwks = None
    app_id = None

    def log_message(self, fmt, *args):  # quiet: the tests read stdout
        pass

    def verify(self):
        token = self.headers.get("X-Assistant-Identity")
        if not token:
            raise jwt.InvalidTokenError("no X-Assistant-Identity")
        # The key is picked by the token's kid from the server's JWKS;
        # PyJWKClient fetches it again when a kid is unknown (key rotation).
        key = self.jwks.get_signing_key_from_jwt(token).key
        claims = jwt.decode(token, key, algorithms=["EdDSA"], audience=self.app_id,
                            options={"require": ["exp", "iat", "sub", "aud", "jti"]})
        if self.headers.get("X-Assistant-User-Id") != claims["sub"]:
            raise jwt.InvalidTokenError("X-Assistant-User-Id disagrees with the token")
        if self.headers.get("X-Assistant-App-Id") != self.app_id:
            raise jwt.InvalidTokenError("X-Assistant-App-Id is not this app")
        return claims

    def send_json(self, status, value, extra=()):
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, val in extra:
            self.send_header(name, val)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            claims = self.verify()
        except (jwt.PyJWTError, KeyError) as e:
            self.send_json(401, {"error": "identity not verified: %s" % e})
            return
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        # By the last segment, so that the routes work under any base path.
        route = url.path.rsplit("/", 1)[-1]
        if route == "events":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            for i in range(1, int(query.get("n", 3)) + 1):
                self.wfile.write(b"id: %d\nevent: tick\ndata: {\"n\": %d}\n\n" % (i, i))
                self.wfile.flush()
                time.sleep(int(query.get("gap_ms", 300)) / 1000)
            return
        if route == "stall":
            time.sleep(int(query.get("ms", 5000)) / 1000)
        if route == "bytes":
            n = int(query.get("n", 100000))
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            self.wfile.write(b"x" * n)
            return
        headers = {}
        for name, val in self.headers.items():
            headers.setdefault(name.lower(), []).append(val)
        self.send_json(int(query.get("status", 200)), {
            "method": self.command,
            "path": self.path,
            "headers": headers,
            "body": body.decode("utf-8", "replace"),
            "claims": claims,
        }, extra=[("X-App", self.app_id),
                  # Must not reach the client: the server owns its cookies,
                  # and Keep-Alive is hop-by-hop.
                  ("Set-Cookie", "access_token=from-the-app; Path=/"),
                  ("Keep-Alive", "timeout=1")])

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_any


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--app-id", required=True)
    ap.add_argument("--jwks", required=True, help="the server's /.well-known/jwks.json URL")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=9001)
    ap.add_argument("--port-file", help="write the bound port here (for --port 0)")
    args = ap.parse_args()
    App.jwks = jwt.PyJWKClient(args.jwks, cache_keys=True)
    App.app_id = args.app_id
    server = ThreadingHTTPServer((args.host, args.port), App)
    port = server.server_address[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(port))
        os.replace(args.port_file + ".tmp", args.port_file)
    print("identity_app %s listening on %s:%d" % (args.app_id, args.host, port), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
