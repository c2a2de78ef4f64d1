#!/usr/bin/env python3
"""Two gateway instances side by side (this test's own, on a prefixed topic set and their own HTTP ports):

- both answer the status of a report whose ticket is live on tickets.v1 (each restores its cache with
  sq_statelog_restore and then follows the log from where the restore ended), and both see the
  ticket's next event;
- a ticket closed longer than status.keep_final_s ago leaves the cache, and both then answer it from
  PostgreSQL;
- both answer the status of a report whose ticket finished long ago and is only in PostgreSQL (as if
  the changelog had let it go), following its merge to the surviving ticket;
- a report is keyed by its community_id, and an action or a rating by the community its ticket id
  carries, whichever instance takes it; an id that carries none is 404.

Ticket events are written to Kafka as triage would write them (protobuf encoded by hand below), rows to
PostgreSQL as the recorder would write them. Needs `tools/dev env`, kcat and psql.
"""
import hashlib
import hmac
import http.client
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid

ENV = os.environ
BUILD = ENV.get("SHEQU_BUILD_DIR", "build/test")
SRC = ENV.get("SHEQU_SOURCE_DIR", ".")
BROKERS = ENV.get("KAFKA_BROKERS", "127.0.0.1:19092")
CLIENT, SECRET = ENV.get("SHEQU_CLIENT_ID", ""), ENV.get("SHEQU_CLIENT_SECRET", "").encode()
U = uuid.uuid4().hex[:8]
PREFIX = f"gi.{U}."
COMMUNITY = f"cm.{U}"  # a community id with a '.' in it: the ticket id's community is all before the last '.'
RESULTS = {"passed": 0, "failed": 0}
LOGDIR = tempfile.mkdtemp(prefix="shequ-gw-")


def check(cond, what):
    RESULTS["passed" if cond else "failed"] += 1
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    return cond


# ------------------------------------------------------------------ ids, as services/common/util.c makes them

def uuid5(ns, name):
    d = bytearray(hashlib.sha1(ns.encode() + b"\0" + name.encode()).digest()[:16])
    d[6] = (d[6] & 0x0F) | 0x50
    d[8] = (d[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(d)))


def ticket_id(community, origin):
    return f"{community}.{uuid5('ticket', origin)}"


# ------------------------------------------------------------------ protobuf, by hand (proto/shequ/v1)

def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(num, value):
    if isinstance(value, int):
        return varint(num << 3) + varint(value)
    data = value.encode() if isinstance(value, str) else value
    return varint(num << 3 | 2) + varint(len(data)) + data


def ticket_event(tid, origin, status, body_field, at_us, resolve_due_us):
    header = field(1, str(uuid.uuid4())) + field(2, at_us) + field(3, at_us) + field(4, "triage") + field(5, COMMUNITY)
    clock = field(1, "resolve") + field(2, 4 * 3600 * 10**6) + field(3, at_us) + field(4, resolve_due_us)
    state = (field(1, tid) + field(2, COMMUNITY) + field(3, "report") + field(4, "sanitation") + field(5, "general")
             + field(6, status) + field(18, clock) + field(19, at_us) + field(20, at_us) + field(26, origin))
    return field(1, header) + field(2, tid) + field(3, "triage") + field(5, state) + field(body_field, b"")


def produce(topic, key, value):
    with tempfile.NamedTemporaryFile(dir=LOGDIR, delete=False) as f:
        f.write(value)
    subprocess.run(["kcat", "-P", "-X", "partitioner=murmur2_random", "-b", BROKERS, "-t", PREFIX + topic, "-k", key, f.name], check=True, timeout=30)


def keys(topic):
    out = subprocess.run(["kcat", "-C", "-b", BROKERS, "-t", PREFIX + topic, "-o", "beginning", "-e", "-q", "-f", "%k\n"],
                         capture_output=True, timeout=60, text=True)
    return [k for k in out.stdout.splitlines() if k]


def psql(sql):
    env = dict(ENV, PGPASSWORD="shequ_owner")
    out = subprocess.run(["psql", "-h", "127.0.0.1", "-p", "15432", "-U", "shequ_owner", "shequ", "-qtAX", "-v",
                          "ON_ERROR_STOP=1"], input=sql, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return out.stdout.strip()


# ------------------------------------------------------------------ the gateways

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gateway(port, instance):
    env = dict(ENV)
    env.update({"SHEQU_TOPIC_PREFIX": PREFIX, "SHEQU_ADMIN_PORT": "0", "SHEQU_KAFKA_BROKERS": BROKERS,
                "SHEQU_HTTP_PORT": str(port), "SHEQU_REDIS_PREFIX": f"gi:{U}:{instance}:", "SHEQU_INSTANCE": instance,
                "SHEQU_RULES_FILE": f"{SRC}/deploy/rules/shequ.rules", "SHEQU_LOG_LEVEL": "info",
                "SHEQU_CLIENTS_FILE": f"{SRC}/deploy/clients/dev.clients", "SHEQU_STATUS_KEEP_FINAL_S": "2",
                "ASAN_OPTIONS": ENV.get("ASAN_OPTIONS", "detect_leaks=0")})
    log = open(os.path.join(LOGDIR, f"gateway-{instance}.log"), "ab")
    return subprocess.Popen([f"{BUILD}/services/gateway/gateway", "--config", f"{SRC}/deploy/config/gateway.conf",
                             "--http-port", str(port)], env=env, stdout=log, stderr=log, cwd=SRC)


def call(port, method, path, body=None):
    data = b"" if body is None else json.dumps(body).encode()
    ts = str(int(time.time()))
    msg = f"{ts}\n{method}\n{path}\n".encode() + data
    h = {"Content-Type": "application/json", "Idempotency-Key": str(uuid.uuid4()), "X-Shequ-Client": CLIENT,
         "X-Shequ-Timestamp": ts, "X-Shequ-Signature": hmac.new(SECRET, msg, hashlib.sha256).hexdigest()}
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        raw = r.read()
        try:
            return r.status, json.loads(raw or b"{}")
        except ValueError:
            return r.status, {"raw": raw.decode(errors="replace")}
    except OSError:
        return 0, {}
    finally:
        c.close()


def wait_for(fn, timeout=30, every=0.3):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(every)
    return fn()


def main():
    if not CLIENT:
        print("FAIL SHEQU_CLIENT_ID is not set: run with `eval \"$(tools/dev env)\"`")
        return 1
    subprocess.run([f"{BUILD}/tests/topics_tool", "create", PREFIX], check=True)
    now = int(time.time() * 1e6)
    live_report, old_report, old_survivor = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    live_tid, old_tid, survivor_tid = (ticket_id(COMMUNITY, r) for r in (live_report, old_report, old_survivor))
    # a report whose ticket finished a year ago: merged into another, closed one; PostgreSQL only
    psql(f"""
INSERT INTO shequ.reports (report_id, event_id, community_id, reporter_id, category, accepted_at) VALUES
  ('{old_report}', '{uuid.uuid4()}', '{COMMUNITY}', 'wx-{U}', 'sanitation', now() - interval '1 year');
INSERT INTO shequ.tickets (ticket_id, community_id, source, category, tier, status, merged_into, created_at, created_day,
                           resolve_due, updated_at, log_partition, log_offset) VALUES
  ('{old_tid}', '{COMMUNITY}', 'report', 'sanitation', 'general', 'merged', '{survivor_tid}', now() - interval '1 year',
   current_date - 365, now() - interval '1 year', now() - interval '1 year', 0, 0),
  ('{survivor_tid}', '{COMMUNITY}', 'report', 'sanitation', 'general', 'closed', NULL, now() - interval '1 year',
   current_date - 365, now() - interval '1 year' + interval '4 hours', now() - interval '1 year', 0, 1);
INSERT INTO shequ.ticket_events (event_id, ticket_id, type, occurred_at, log_partition, log_offset) VALUES
  ('{uuid.uuid4()}', '{survivor_tid}', 'created', now() - interval '1 year', 0, 1),
  ('{uuid.uuid4()}', '{survivor_tid}', 'closed', now() - interval '1 year' + interval '3 hours', 0, 2);
""")
    produce("tickets.v1", COMMUNITY, ticket_event(live_tid, live_report, 1, 10, now, now + 4 * 3600 * 10**6))
    ports = [free_port(), free_port()]
    procs = [gateway(ports[0], "a"), gateway(ports[1], "b")]
    try:
        for port in ports:
            s, b = wait_for(lambda: (lambda r: r if r[0] == 200 else None)(call(port, "GET", f"/v1/reports/{live_report}")),
                            timeout=60) or (0, {})
            check(s == 200 and b.get("ticket_id") == live_tid and b.get("status") == "assigned"
                  and [h["type"] for h in b.get("history", [])] == ["created"],
                  f"gateway on :{port} answers the live report's status from its restored cache ({s} {b.get('status')})")
        produce("tickets.v1", COMMUNITY, ticket_event(live_tid, live_report, 2, 14, now + 10**6, now + 4 * 3600 * 10**6))
        for port in ports:
            s, b = wait_for(lambda: (lambda r: r if r[1].get("status") == "in_progress" else None)(
                call(port, "GET", f"/v1/reports/{live_report}")), timeout=20) or (0, {})
            check(s == 200 and [h["type"] for h in b.get("history", [])] == ["created", "responded"],
                  f"gateway on :{port} follows tickets.v1 live after the restore")
        for port in ports:
            s, b = call(port, "GET", f"/v1/reports/{old_report}")
            check(s == 200 and b.get("ticket_id") == survivor_tid and b.get("status") == "closed"
                  and [h["type"] for h in b.get("history", [])] == ["created", "closed"] and b.get("resolve_due"),
                  f"gateway on :{port} answers a long-finished ticket from PostgreSQL, through its merge ({s} {b})")
            s, b = call(port, "GET", f"/open311/v2/requests/{old_report}.json")
            check(s == 200 and b and b[0].get("extended_status") == "closed", f"gateway on :{port}: Open311 too ({s})")
            s, b = call(port, "GET", f"/v1/reports/{uuid.uuid4()}")
            check(s == 404 and b.get("error", {}).get("field") == "report_id", f"gateway on :{port}: an unknown report is 404")
        # routing: every input of the community on the community's key, from either instance
        s1, _ = call(ports[0], "POST", "/v1/reports", {"community_id": COMMUNITY, "reporter_id": f"wx-{U}",
                                                     "category": "sanitation", "description": "垃圾未清运"})
        s2, _ = call(ports[1], "POST", f"/v1/tickets/{live_tid}/actions", {"actor_id": f"w-{U}", "action": "accept"})
        s3, _ = call(ports[0], "POST", f"/v1/tickets/{live_tid}/feedback", {"reporter_id": f"wx-{U}", "rating": "satisfied"})
        check((s1, s2, s3) == (202, 202, 202), f"a report, an action and a rating → 202 ({s1} {s2} {s3})")
        check(keys("reports.resident.v1") == [COMMUNITY], "the report is keyed by its community_id")
        check(keys("events.property.v1") == [COMMUNITY], "the action is keyed by the community its ticket id carries")
        check(keys("feedback.resident.v1") == [COMMUNITY], "the rating is keyed by the community its ticket id carries")
        # the live ticket closes (ten seconds ago, as the event says): kept status.keep_final_s (2 s), then
        # answered from PostgreSQL, where the recorder has it (its history there made different on purpose)
        psql(f"""
INSERT INTO shequ.reports (report_id, event_id, community_id, reporter_id, category, accepted_at) VALUES
  ('{live_report}', '{uuid.uuid4()}', '{COMMUNITY}', 'wx-{U}', 'sanitation', now());
INSERT INTO shequ.tickets (ticket_id, community_id, source, category, tier, status, created_at, created_day,
                           updated_at, log_partition, log_offset) VALUES
  ('{live_tid}', '{COMMUNITY}', 'report', 'sanitation', 'general', 'closed', now(), current_date, now(), 0, 9);
INSERT INTO shequ.ticket_events (event_id, ticket_id, type, occurred_at, log_partition, log_offset) VALUES
  ('{uuid.uuid4()}', '{live_tid}', 'created', now() - interval '1 minute', 0, 1),
  ('{uuid.uuid4()}', '{live_tid}', 'recorded', now(), 0, 9);
""")
        produce("tickets.v1", COMMUNITY, ticket_event(live_tid, live_report, 5, 22, now - 10 * 10**6, now))
        for port in ports:
            s, b = wait_for(lambda: (lambda r: r if [h["type"] for h in r[1].get("history", [])] == ["created", "recorded"]
                                     else None)(call(port, "GET", f"/v1/reports/{live_report}")), timeout=30) or (0, {})
            check(s == 200 and b.get("status") == "closed",
                  f"gateway on :{port}: a ticket final for longer than status.keep_final_s is answered from PostgreSQL")
        s, b = call(ports[1], "POST", f"/v1/tickets/{uuid5('ticket', live_report)}/actions", {"actor_id": "s", "action": "accept"})
        check(s == 404 and b.get("error", {}).get("code") == "not_found" and b["error"].get("field") == "ticket_id",
              "an action on a ticket id without its community → 404 naming ticket_id")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        psql(f"""
DELETE FROM shequ.ticket_events WHERE ticket_id IN ('{old_tid}', '{survivor_tid}', '{live_tid}');
DELETE FROM shequ.tickets WHERE ticket_id IN ('{old_tid}', '{survivor_tid}', '{live_tid}');
DELETE FROM shequ.reports WHERE report_id IN ('{old_report}', '{live_report}');
""")
        subprocess.run([f"{BUILD}/tests/topics_tool", "delete", PREFIX], capture_output=True)
    for p in procs:
        check(p.returncode == 0, f"gateway pid {p.pid} stopped cleanly on SIGTERM ({p.returncode}; logs in {LOGDIR})")
    print(f"gateway instances: {RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 0 if RESULTS["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
