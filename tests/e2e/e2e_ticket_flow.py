#!/usr/bin/env python3
"""End to end through the running services, by their public interfaces only.

A district is written to the directory tables (as an operator would), then a
resident's signed report goes to the gateway; the test follows it through
triage (classified, deadlines, assigned), the staff member's actions
(accept, resolve), the resident's rating, and finally the PostgreSQL record
and the KPI view supervisors read. It also checks that the resident's phone
number reaches none of the logs, Kafka topics, Redis or PostgreSQL tables.

Needs the environment of `tools/dev env` and a running stack (`tools/dev up`).
Standard library only, plus the psql, kcat and redis-cli clients.
"""
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

ENV = os.environ
GATEWAY = ENV.get("GATEWAY_URL", "http://127.0.0.1:18080")
CLIENT_ID = ENV.get("SHEQU_CLIENT_ID", "")
SECRET = ENV.get("SHEQU_CLIENT_SECRET", "").encode()
RESULTS = {"passed": 0, "failed": 0}


def check(cond, what):
    if cond:
        RESULTS["passed"] += 1
        print(f"ok   {what}", flush=True)
    else:
        RESULTS["failed"] += 1
        print(f"FAIL {what}", flush=True)
    return cond


def request(method, path, body=None, idem=None):
    data = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
    ts = str(int(time.time()))
    msg = f"{ts}\n{method}\n{path}\n".encode() + data
    sig = hmac.new(SECRET, msg, hashlib.sha256).hexdigest()
    req = urllib.request.Request(GATEWAY + path, data=data if body is not None else None, method=method)
    req.add_header("X-Shequ-Client", CLIENT_ID)
    req.add_header("X-Shequ-Timestamp", ts)
    req.add_header("X-Shequ-Signature", sig)
    req.add_header("Content-Type", "application/json")
    req.add_header("Idempotency-Key", idem or str(uuid.uuid4()))
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw or b"{}")
        except ValueError:
            return e.code, {"raw": raw.decode(errors="replace")}


def psql(dsn_var, sql, *params):
    """Runs sql with psql variables :'p1', :'p2'… bound to params (quoted by psql itself)."""
    args = ["psql", ENV[dsn_var], "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-F", "|"]
    for i, p in enumerate(params, 1):
        args += ["-v", f"p{i}={p}"]
    out = subprocess.run(args, input=sql, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return out.stdout.strip()


def poll(fn, timeout=40, every=0.3):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(every)
    return None


def seed_district(u):
    sql = """
    INSERT INTO shequ.streets (street_id, name) VALUES (:'p1', '火车南站街道');
    INSERT INTO shequ.companies (company_id, name) VALUES (:'p2', '信托制物业');
    INSERT INTO shequ.communities (community_id, name, street_id, company_id) VALUES (:'p3', '长寿苑社区', :'p1', :'p2');
    INSERT INTO shequ.staff (staff_id, name, role, company_id, community_id, street_id, skills, on_duty) VALUES
      (:'p4', '王师傅', 'staff', :'p2', :'p3', NULL, '{water_leak,facility_damage}', true),
      (:'p5', '张经理', 'manager', :'p2', :'p3', NULL, '{}', true),
      (:'p6', '赵专员', 'supervisor', NULL, :'p3', :'p1', '{}', true),
      (:'p7', '刘主任', 'street', NULL, NULL, :'p1', '{}', true);
    """
    ids = [f"st-{u}", f"co-{u}", f"cm-{u}", f"s-{u}", f"m-{u}", f"v-{u}", f"l-{u}"]
    psql("PG_OWNER_DSN", sql, *ids)
    return ids


def ticket_status(report_id):
    code, body = request("GET", f"/v1/reports/{report_id}")
    return body if code == 200 and body.get("ticket_id") else None


def main():
    for var in ("GATEWAY_URL", "PG_OWNER_DSN", "PG_READER_DSN", "SHEQU_CLIENT_ID", "SHEQU_CLIENT_SECRET"):
        if not ENV.get(var):
            print(f"FAIL {var} is not set: run through `tools/dev test` (or eval \"$(tools/dev env)\")")
            return 1
    u = uuid.uuid4().hex[:8]
    street, company, community, staff, manager, supervisor, officer = seed_district(u)
    phone = "139" + str(int(time.time() * 1000))[-8:]
    time.sleep(11)  # the directory is picked up within 10 s

    code, body = request("POST", "/v1/reports", {
        "community_id": community, "reporter_id": f"wx-{u}", "category": "water_leak",
        "description": "2栋1单元楼道天花板漏水", "building": "2", "unit": "1",
        "location": {"lat": 30.6286, "lon": 104.0587}, "phone": phone, "channel": "miniprogram"})
    check(code == 202 and body.get("status") == "accepted", f"report accepted (HTTP {code})")
    report_id = body.get("report_id")
    st = poll(lambda: ticket_status(report_id)) if report_id else None
    if not check(st is not None, "report became a ticket, visible through the gateway"):
        return finish()
    ticket = st["ticket_id"]
    check(st.get("tier") == "medium", f"water_leak is medium (got {st.get('tier')})")
    check(st.get("assignee_id") == staff, f"assigned to the on-duty staff with the skill (got {st.get('assignee_id')})")
    check(bool(st.get("respond_due")) and bool(st.get("resolve_due")), "deadlines shown to the resident")

    code, _ = request("POST", f"/v1/tickets/{ticket}/actions", {"actor_id": manager + "-x", "action": "resolve"})
    check(code == 202, "a stranger's action is accepted at the edge (legality is decided downstream)")
    code, _ = request("POST", f"/v1/tickets/{ticket}/actions", {"actor_id": staff, "action": "accept"})
    check(code == 202, "accept → 202")
    check(poll(lambda: (ticket_status(report_id) or {}).get("status") == "in_progress"), "ticket in_progress")
    code, _ = request("POST", f"/v1/tickets/{ticket}/actions",
                      {"actor_id": staff, "action": "resolve", "note": "已修复", "photos": ["https://img.example/fixed.jpg"]})
    check(code == 202, "resolve → 202")
    check(poll(lambda: (ticket_status(report_id) or {}).get("status") == "resolved"), "ticket resolved")
    code, _ = request("POST", f"/v1/tickets/{ticket}/feedback", {"reporter_id": f"wx-{u}", "rating": "satisfied"})
    check(code == 202, "feedback → 202")

    row = poll(lambda: psql("PG_READER_DSN",
                            "SELECT status, rating, responded_at IS NOT NULL, resolved_at IS NOT NULL "
                            "FROM shequ.tickets WHERE ticket_id = :'p1' AND rating IS NOT NULL", ticket))
    check(row is not None and row.split("|")[1] == "satisfied", f"PostgreSQL ticket row rated (got {row})")
    rejected = poll(lambda: psql("PG_READER_DSN",
                                 "SELECT count(*) FROM shequ.ticket_events WHERE ticket_id = :'p1' AND type = 'rejected'",
                                 ticket) not in ("", "0"))
    check(bool(rejected), "the stranger's resolve was recorded as a rejection")
    kpi = poll(lambda: psql("PG_READER_DSN",
                            "SELECT tickets, responded, reply_rate, rated, satisfaction_rate FROM shequ.kpi_daily "
                            "WHERE community_id = :'p1' AND rated = 1", community))
    check(kpi is not None and kpi.split("|")[0] == "1" and float(kpi.split("|")[2]) == 1.0
          and float(kpi.split("|")[4]) == 1.0, f"kpi_daily: 1 ticket, replied, satisfied (got {kpi})")

    # the phone number never appears in clear anywhere
    state = ENV.get("SHEQU_STATE", ".state")
    logs = subprocess.run(["grep", "-rl", phone, os.path.join(state, "logs")], capture_output=True, text=True)
    check(logs.stdout.strip() == "", "phone number in no log file")
    for topic in ("reports.resident.v1", "tickets.v1", "notify.v1"):
        out = subprocess.run(["kcat", "-C", "-b", ENV["KAFKA_BROKERS"], "-t", topic, "-o", "-2000", "-e", "-q"],
                             capture_output=True, timeout=60)
        check(phone.encode() not in out.stdout, f"phone number not in clear on {topic}")
    dump = psql("PG_OWNER_DSN", "SELECT count(*) FROM shequ.reports r WHERE r::text LIKE '%' || :'p1' || '%'", phone)
    check(dump == "0", "phone number not in clear in shequ.reports")
    return finish()


def finish():
    print(f"e2e: {RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 0 if RESULTS["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
