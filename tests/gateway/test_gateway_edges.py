#!/usr/bin/env python3
"""The gateway's edge, through HTTP only: every error class of DESIGN.md §6 with its status and
error body, a corpus of bad inputs that must never crash it nor reach Kafka, idempotency keys,
Open311, and 503 with Retry-After while the broker is down (202 again once it is back)."""
import hashlib
import hmac
import http.client
import json
import os
import subprocess
import sys
import time
import urllib.parse
import uuid

ENV = os.environ
URL = urllib.parse.urlparse(ENV.get("GATEWAY_URL", "http://127.0.0.1:18080"))
CLIENT, SECRET = ENV.get("SHEQU_CLIENT_ID", ""), ENV.get("SHEQU_CLIENT_SECRET", "").encode()
SRC = ENV.get("SHEQU_SOURCE_DIR", ".")
RESULTS = {"passed": 0, "failed": 0}
U = uuid.uuid4().hex[:8]
TICKET = f"cm-{U}.{uuid.uuid4()}"  # shaped as ticket ids are: "<community_id>.<uuid>"


def check(cond, what):
    RESULTS["passed" if cond else "failed"] += 1
    print(("ok   " if cond else "FAIL ") + what, flush=True)


def raw(method, path, body=b"", headers=None, sign=True, ts=None, secret=None, client=None):
    ts = ts or str(int(time.time()))
    h = {"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4())}
    if sign:
        msg = f"{ts}\n{method}\n{path.split('?')[0]}\n".encode() + body
        h.update({"X-Shequ-Client": client or CLIENT, "X-Shequ-Timestamp": ts,
                  "X-Shequ-Signature": hmac.new(secret or SECRET, msg, hashlib.sha256).hexdigest()})
    h.update(headers or {})
    c = http.client.HTTPConnection(URL.hostname, URL.port, timeout=20)
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    try:
        return r.status, json.loads(data or b"{}"), r.getheader("Retry-After")
    except ValueError:
        return r.status, {"raw": data.decode(errors="replace")}, r.getheader("Retry-After")


def report(**over):
    b = {"community_id": f"cm-{U}", "reporter_id": f"wx-{U}", "category": "sanitation", "description": "垃圾未清运"}
    b.update(over)
    return {k: v for k, v in b.items() if v is not None}


def post(body, **kw):
    data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return raw("POST", "/v1/reports", data, **kw)


def err(resp, status, code, field=None):
    s, b, _ = resp
    e = b.get("error", {})
    ok = s == status and e.get("code") == code and (field is None or e.get("field") == field) and e.get("message")
    return ok


def alive():
    return raw("GET", "/v1/categories")[0] == 200


def main():
    if not CLIENT:
        print("FAIL SHEQU_CLIENT_ID is not set: run through `tools/dev test`")
        return 1
    # authentication
    check(err(post(report(), sign=False), 401, "unauthenticated", "X-Shequ-Client"), "unsigned → 401 naming the header")
    check(err(post(report(), ts=str(int(time.time()) - 301)), 401, "stale_timestamp"), "timestamp 301 s old → 401")
    check(err(post(report(), ts=str(int(time.time()) + 301)), 401, "stale_timestamp"), "timestamp 301 s ahead → 401")
    check(err(post(report(), secret=b"wrong"), 401, "bad_signature"), "wrong secret → 401")
    check(err(post(report(), client="nobody"), 401, "unauthenticated", "X-Shequ-Client"), "unknown client → 401")
    body = json.dumps(report(reporter_id=f"wx-replay-{U}")).encode()
    ts = str(int(time.time()))
    first = post(body, ts=ts)
    check(first[0] == 202, "signed report → 202")
    check(err(post(body, ts=ts), 401, "replayed"), "the same signed request again → 401 replayed")
    # a client retrying within the same second signs the same bytes: with its Idempotency-Key it gets its
    # first answer back; a replay under another key is still refused
    body = json.dumps(report(reporter_id=f"wx-retry-{U}")).encode()
    ts, key = str(int(time.time())), str(uuid.uuid4())
    first = post(body, ts=ts, headers={"Idempotency-Key": key})
    again = post(body, ts=ts, headers={"Idempotency-Key": key})
    check(first[0] == 202 and again[0] == 202 and again[1].get("report_id") == first[1].get("report_id"),
          "the same signed request with its Idempotency-Key again → its first answer, not 401")
    check(err(post(body, ts=ts, headers={"Idempotency-Key": str(uuid.uuid4())}), 401, "replayed"),
          "the same signed request under another Idempotency-Key → 401 replayed")
    # validation: each names its field
    cases = [
        (report(category="earthquake"), 400, "unknown_category", "category"),
        (report(community_id=None), 400, "missing_field", "community_id"),
        (report(description=""), 400, "invalid_length", "description"),
        (report(description="长" * 2001), 400, "invalid_length", "description"),
        (report(reporter_id=42), 400, "invalid_type", "reporter_id"),
        (report(community_id="a/b"), 400, "invalid_value", "community_id"),
        (report(location={"lat": 91, "lon": 0}), 400, "invalid_value", "location"),
        (report(location="here"), 400, "invalid_value", "location"),
        (report(photos=["https://x/%d.jpg" % i for i in range(10)]), 400, "too_many", "photos"),
        (report(photos=["javascript:alert(1)"]), 400, "invalid_value", "photos"),
        (report(phone="call me maybe"), 400, "invalid_value", "phone"),
        (report(channel="pigeon"), 400, "invalid_value", "channel"),
    ]
    for body, status, code, field in cases:
        check(err(post(body), status, code, field), f"{code} on {field} → {status}")
    check(err(post(b"{not json"), 400, "malformed_json"), "malformed JSON → 400")
    check(err(post(b"[1,2,3]"), 400, "malformed_json"), "a JSON array → 400")
    check(err(post(b'{"community_id":"\xff\xfe"}'), 400, "malformed_json"), "invalid UTF-8 → 400")
    check(err(post(b"[" * 100000 + b"]" * 100000), 413, "payload_too_large"), "a nested bomb over 64 KiB → 413")
    check(err(post(b"[" * 30000 + b"]" * 30000), 400, "malformed_json"), "a nested bomb under 64 KiB → 400")
    check(err(post(b"x" * (64 * 1024 + 1)), 413, "payload_too_large"), "body over 64 KiB → 413")
    check(err(post(report(), headers={"Content-Type": "text/plain"}), 415, "unsupported_media_type"), "text/plain → 415")
    check(err(raw("GET", "/v1/nothing"), 404, "not_found"), "unknown route → 404")
    check(err(raw("PUT", "/v1/reports", b"{}"), 405, "method_not_allowed"), "PUT /v1/reports → 405")
    check(err(raw("GET", f"/v1/reports/nope-{U}"), 404, "not_found"), "unknown report → 404 until known")
    check(err(raw("POST", f"/v1/tickets/{TICKET}/actions", json.dumps({"actor_id": "s", "action": "dance"}).encode()),
              400, "invalid_value", "action"), "unknown action → 400")
    check(err(raw("POST", f"/v1/tickets/{TICKET}/actions", json.dumps({"actor_id": "s", "action": "plan"}).encode()),
              400, "missing_field", "deadline"), "plan without deadline → 400")
    check(err(raw("POST", f"/v1/tickets/{TICKET}/actions",
                  json.dumps({"actor_id": "s", "action": "plan", "deadline": "next friday"}).encode()),
              400, "invalid_value", "deadline"), "plan with a bad deadline → 400")
    check(err(raw("POST", f"/v1/tickets/{TICKET}/feedback", json.dumps({"reporter_id": "r", "rating": "meh"}).encode()),
              400, "invalid_value", "rating"), "unknown rating → 400")
    for bad in ("t1", f"cm-{U}", f"cm-{U}.not-a-uuid", f"{uuid.uuid4()}", "c" * 65 + f".{uuid.uuid4()}"):
        for what, body in (("actions", {"actor_id": "s", "action": "accept"}), ("feedback", {"reporter_id": "r", "rating": "satisfied"})):
            check(err(raw("POST", f"/v1/tickets/{bad}/{what}", json.dumps(body).encode()), 404, "not_found", "ticket_id"),
                  f"{what} on a ticket id without a community ({bad[:24]}…) → 404 naming ticket_id")
    long_id = "c" * 64 + f".{uuid.uuid4()}"
    check(raw("POST", f"/v1/tickets/{long_id}/actions", json.dumps({"actor_id": "s", "action": "dance"}).encode())[0] == 400,
          "a ticket id with a 64-character community is accepted as an id (the body is then checked)")
    check(alive(), "the gateway is still up after the corpus")
    # a resident's reports are limited per minute (30 by default): the 31st is 429 with Retry-After
    who = f"wx-busy-{U}"
    if time.time() % 60 > 50:  # the limit counts per clock minute: do not straddle two
        time.sleep(60.5 - time.time() % 60)
    answers = [post(report(reporter_id=who, building=str(i))) for i in range(31)]
    check(all(a[0] == 202 for a in answers[:30]), "30 reports of one resident in a minute → 202")
    last = answers[30]
    check(err(last, 429, "rate_limited", "reporter") and last[2] and 1 <= int(last[2]) <= 60,
          "the 31st → 429 naming the reporter, with Retry-After up to the minute's end")
    # SQL and HTML are stored inertly
    nasty = "'); DROP TABLE shequ.tickets; -- <script>alert(1)</script>"
    s, b, _ = post(report(description=nasty, reporter_id=f"wx-nasty-{U}"))
    check(s == 202, "SQL and HTML in text are accepted as text")
    # idempotency: the same key returns the first answer and writes nothing new
    key = str(uuid.uuid4())
    a = post(report(reporter_id=f"wx-idem-{U}"), headers={"Idempotency-Key": key})
    time.sleep(1.1)  # a new timestamp: a new signature, so not a replay
    b2 = post(report(reporter_id=f"wx-idem-{U}"), headers={"Idempotency-Key": key})
    check(a[0] == 202 and b2[0] == 202 and a[1].get("report_id") == b2[1].get("report_id"),
          "a repeated Idempotency-Key returns the first response")
    # a gateway that died between Kafka's acknowledgement and recording the answer leaves its key pending:
    # a retry long after is accepted again with the same report id (derived from the key), and the key
    # then answers like any other; a key pending a moment ago is still 409
    stale, fresh = str(uuid.uuid4()), str(uuid.uuid4())
    redis = ENV.get("REDIS_URL", "redis://127.0.0.1:16379/0").split("//")[1].split("/")[0].split(":")
    def redis_set(key, value):
        subprocess.run(["redis-cli", "-h", redis[0], "-p", redis[1], "SET", f"sq:idem:{CLIENT}:{key}", value,
                        "EX", "600"], check=True, capture_output=True, timeout=10)
    redis_set(stale, f"pending {int(time.time()) - 3600}")
    redis_set(fresh, f"pending {int(time.time())}")
    s1, b1, _ = post(report(reporter_id=f"wx-stale-{U}"), headers={"Idempotency-Key": stale})
    time.sleep(1.1)
    s2, b2, _ = post(report(reporter_id=f"wx-stale-{U}"), headers={"Idempotency-Key": stale})
    check(s1 == 202 and s2 == 202 and b1.get("report_id") and b1.get("report_id") == b2.get("report_id"),
          "a key left pending by a gateway that died is taken over by a retry, which is answered from then on")
    check(err(post(report(reporter_id=f"wx-fresh-{U}"), headers={"Idempotency-Key": fresh}), 409, "in_progress"),
          "a key pending a moment ago is still 409")
    # categories and Open311
    s, b, _ = raw("GET", "/v1/categories")
    check(s == 200 and len(b.get("categories", [])) == 15, "GET /v1/categories lists the 15 categories")
    s, b, _ = raw("GET", "/open311/v2/services.json", sign=False)
    check(s == 200 and any(x.get("service_code") == "elevator" for x in b), "Open311 services.json")
    s, b, _ = raw("GET", "/open311/v2/services/elevator.json", sign=False)
    check(s == 200 and b.get("service_code") == "elevator", "Open311 service definition")
    form = urllib.parse.urlencode({"api_key": "dev-open311-key", "service_code": "parking", "jurisdiction_id": f"cm-{U}",
                                   "description": "消防通道被占用", "lat": "30.6", "long": "104.0",
                                   "account_id": f"o311-{U}"}).encode()
    s, b, _ = raw("POST", "/open311/v2/requests.json", form, sign=False,
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    check(s == 201 and b and b[0].get("service_request_id"), "Open311 POST requests.json with api_key → 201")
    form_bad = urllib.parse.urlencode({"api_key": "wrong", "service_code": "parking"}).encode()
    s, b, _ = raw("POST", "/open311/v2/requests.json", form_bad, sign=False,
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    check(s == 401, "Open311 with a wrong api_key → 401")
    # the OpenAPI document matches the running gateway: every documented operation answers with a documented status
    spec = json.load(open(os.path.join(SRC, "docs", "openapi.json")))
    samples = {"/v1/reports": report(reporter_id=f"wx-oa-{U}"), "/v1/tickets/{ticket_id}/actions": {"actor_id": "s", "action": "accept"},
               "/v1/tickets/{ticket_id}/feedback": {"reporter_id": "r", "rating": "satisfied"}}
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            concrete = path.replace("{report_id}", a[1].get("report_id", "x")).replace("{ticket_id}", TICKET)
            body = json.dumps(samples.get(path, {})).encode() if method == "post" else b""
            s, b, _ = raw(method.upper(), concrete, body)
            check(str(s) in op["responses"], f"OpenAPI {method.upper()} {path}: {s} is documented")
    # the broker down: 503 with Retry-After and nothing half-written; back: 202
    subprocess.run([f"{SRC}/tools/dev", "stop-server", "kafka"], check=True, capture_output=True)
    try:
        s, b, retry = post(report(reporter_id=f"wx-down-{U}"))
        check(s == 503 and retry and b.get("error", {}).get("code") == "unavailable", "broker stopped → 503 with Retry-After")
    finally:
        subprocess.run([f"{SRC}/tools/dev", "start-server", "kafka"], check=True, capture_output=True)
    deadline, s = time.time() + 60, 0
    while time.time() < deadline and s != 202:
        s = post(report(reporter_id=f"wx-back-{U}"))[0]
        time.sleep(1)
    check(s == 202, "broker back → 202")
    print(f"gateway: {RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 0 if RESULTS["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
