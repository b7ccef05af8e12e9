#!/usr/bin/python3
"""Checks every response the black-box tests recorded (response_log.cpp)
against the /openapi.json the server served during those tests.

A response fails when its path or method is not in the document, its status
is not listed for the operation, or its JSON body does not match the schema
for that status and content type. Responses to paths the document does not
list (unknown routes) must still carry the error envelope. Exits 1 and names
the route, status and the validator's message for each kind of failure.
"""
import json
import re
import sys
from collections import OrderedDict

from jsonschema import Draft202012Validator, RefResolver


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def find_document(records):
    for r in records:
        if r["path"].split("?")[0] == "/openapi.json" and r["status"] == 200:
            return json.loads(r["body"])
    return None


def path_matchers(doc):
    # Literal paths before templated ones, so /api/tasks/clear-completed is
    # not taken for /api/tasks/{id}.
    out = []
    for template in doc["paths"]:
        # A parameter marked x-rest-of-path takes one or more segments.
        rest = {p["name"] for op in doc["paths"][template].values()
                for p in op.get("parameters", []) if p.get("x-rest-of-path")}
        pattern = "^" + re.sub(r"\\\{([^/]+?)\\\}",
                               lambda m: ".+" if m.group(1) in rest else "[^/]+",
                               re.escape(template)) + "$"
        out.append((template.count("{"), template, re.compile(pattern)))
    out.sort(key=lambda t: t[0])
    return out


def match(matchers, path):
    for _, template, rx in matchers:
        if rx.match(path):
            return template
    return None


def main():
    if len(sys.argv) != 2:
        print("usage: validate_responses.py RESPONSES.jsonl", file=sys.stderr)
        return 2
    records = load(sys.argv[1])
    doc = find_document(records)
    if doc is None:
        print("no 200 response to GET /openapi.json was recorded", file=sys.stderr)
        return 1
    resolver = RefResolver("", doc)
    schemas = doc["components"]["schemas"]
    matchers = path_matchers(doc)
    failures = OrderedDict()  # (route, status, kind) -> [first message, count]
    checked = 0

    def check(schema, body):
        try:
            value = json.loads(body)
        except ValueError as e:
            return ("not JSON", "body is not JSON: %s" % e)
        errors = sorted(Draft202012Validator(schema, resolver=resolver).iter_errors(value),
                        key=lambda e: list(e.absolute_path))
        if errors:
            e = errors[0]
            where = "/".join(str(p) for p in e.absolute_path) or "(root)"
            # Grouped by the schema rule broken, not by the (varying) value.
            kind = "/".join(str(p) for p in e.absolute_schema_path)
            return (kind, "at %s: %s" % (where, e.message[:300]))
        return None

    for r in records:
        if r["status"] == 0:
            continue  # no response (the test closed or refused the connection)
        if r["method"] == "OPTIONS":
            continue  # CORS preflight: answered by the server for any route, not an operation
        checked += 1
        # The server answers //healthz/ as /healthz: compare the same way.
        path = re.sub("/+", "/", r["path"].split("?")[0])
        if len(path) > 1:
            path = path.rstrip("/")
        method = r["method"].lower()
        # HEAD is answered for every GET route, with the GET's status and no body.
        head = method == "head"
        if head:
            method = "get"
        status = str(r["status"])
        ctype = r["content_type"].split(";")[0].strip().lower()
        template = match(matchers, path)
        route = "%s %s" % (r["method"], template or path)
        problem = None
        if template is None or method not in doc["paths"][template]:
            # Unknown routes and methods: still the error envelope.
            if r["status"] < 400:
                problem = ("unlisted", "a success from a route the document does not list")
            else:
                envelope = "OpenAIError" if path == "/v1" or path.startswith("/v1/") else "Error"
                problem = check({"$ref": "#/components/schemas/" + envelope}, r["body"])
        else:
            responses = doc["paths"][template][method]["responses"]
            response = responses.get(status, responses.get("default"))
            if response is None:
                problem = ("status", "status not listed (documented: %s)" % ", ".join(sorted(responses)))
            elif "content" in response and r["body"] and not head:
                content = response["content"]
                if ctype not in content:
                    problem = ("content type", "content type %r not listed (documented: %s)" % (
                        ctype, ", ".join(sorted(content))))
                elif ctype == "application/json" and "schema" in content[ctype]:
                    problem = check(content[ctype]["schema"], r["body"])
        if problem:
            key = (route, status, problem[0])
            failures.setdefault(key, [problem[1], 0])[1] += 1

    for (route, status, _), (message, count) in failures.items():
        print("%s -> %s: %s (%d response%s)" % (route, status, message, count,
                                                "" if count == 1 else "s"))
    print("%d responses checked against /openapi.json, %d kinds of mismatch"
          % (checked, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
