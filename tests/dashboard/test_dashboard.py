#!/usr/bin/env python3
"""The dashboard against the running stack and a known fixture.

A street with two communities (and a third community on another street) is written to the directory
tables, tickets with hand-picked deadlines to shequ.tickets (as the recorder would), and three sign-ins
made with `tools/dev dashboard-user`: a supervisor of community A, the officer of the street, and a
district user. Then:

- every headline figure of community A equals the hand-computed value and the kpi_daily row;
- periods, trend, rankings, the overdue list, hotspots, the ticket timeline and the quarterly report;
- a supervisor cannot read another community through forged parameters (scope, report, ticket ids),
  a tampered or missing cookie is 401, bad parameters are 400 naming the field;
- CSV exports start with the UTF-8 BOM, neutralise formulas, and carry no phone number;
- two dashboard instances of this build reading one session.key_file accept each other's cookies; an
  instance with another key refuses them;
- the browser test (headless Chromium driven by playwright-core) signs in, switches scope, opens a
  ticket and downloads a CSV; its screenshots are kept in $ARTIFACTS_DIR.

Needs `tools/dev env` and a running stack with the dashboard.
"""
import http.cookiejar
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

ENV = os.environ
ROOT = ENV.get("SHEQU_SOURCE_DIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DASH = ENV.get("DASHBOARD_URL", "http://127.0.0.1:18081")
RESULTS = {"passed": 0, "failed": 0}
RUN = uuid.uuid4().hex[:8]
STREET, OTHER_STREET = f"st-{RUN}", f"st2-{RUN}"
A, B, C = f"cA-{RUN}", f"cB-{RUN}", f"cC-{RUN}"
CO, CO2 = f"co-{RUN}", f"co2-{RUN}"
DAY = "2026-01-01"          # tickets created 2026-01-01T06:00Z = 14:00 Shanghai
PASSWORD = "pw-" + RUN


def check(cond, what):
    RESULTS["passed" if cond else "failed"] += 1
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    return cond


def psql(sql, role="owner"):
    env = dict(ENV, PGPASSWORD=f"shequ_{role}")
    out = subprocess.run(["psql", "-h", "127.0.0.1", "-p", "15432", "-U", f"shequ_{role}", "shequ", "-qtAX",
                          "-v", "ON_ERROR_STOP=1", "-F", "|"], input=sql, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return out.stdout.strip()


class Client:
    def __init__(self):
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def call(self, method, path, body=None, headers=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(DASH + path, data=data, method=method, headers=headers or {})
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with self.opener.open(req, timeout=10) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def json(self, path, **params):
        q = urllib.parse.urlencode(params)
        status, _, raw = self.call("GET", path + ("?" + q if q else ""))
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw

    def login(self, user, password=PASSWORD):
        status, _, raw = self.call("POST", "/api/login", {"username": user, "password": password})
        return status, json.loads(raw or b"{}")


def fixture():
    """Community A, one Shanghai day (deadlines as in tests/recorder/test_kpi_views.c):
    a1 responded and resolved exactly at their deadlines, satisfied
    a2 responded late, resolved late, basically satisfied
    a3 open, never responded, both deadlines past                      (overdue)
    a4 responded on time, reopened, resolve deadline ahead, unsatisfied
    a5 merged, a6 cancelled                                             (excluded)
    a7 planned on time, still open
    Expected: tickets 5, responded 4, on time 3 → 3/(4+1) = 0.6; resolved 2, on time 1 → 1/(2+1);
    rated 3, satisfied 2 → 2/3; reply 4/5; overdue 1.
    Community B: b1 resolved on time (rate 1.0); C (other street): c1 open and overdue."""
    psql(f"""
INSERT INTO shequ.streets VALUES ('{STREET}', '测试街道 {RUN}'), ('{OTHER_STREET}', '别的街道 {RUN}');
INSERT INTO shequ.companies VALUES ('{CO}', '物业甲 {RUN}'), ('{CO2}', '物业乙 {RUN}');
INSERT INTO shequ.communities (community_id, name, street_id, company_id) VALUES
  ('{A}', '幸福里 {RUN}', '{STREET}', '{CO}'), ('{B}', '和平苑 {RUN}', '{STREET}', '{CO2}'),
  ('{C}', '远方小区 {RUN}', '{OTHER_STREET}', '{CO2}');
INSERT INTO shequ.staff (staff_id, name, role, company_id, community_id, street_id) VALUES
  ('sup-{RUN}', '社区专人 {RUN}', 'supervisor', NULL, '{A}', NULL),
  ('str-{RUN}', '街道干部 {RUN}', 'street', NULL, NULL, '{STREET}'),
  ('w-{RUN}', '维修工 {RUN}', 'staff', '{CO}', '{A}', NULL);
""")
    rows = [
        ("a1", A, CO, "general", "closed", "satisfied", "2026-01-01T10:00:00Z", "2026-01-01T10:00:00Z", "2026-01-01T14:00:00Z", "2026-01-01T14:00:00Z", "sanitation", "1"),
        ("a2", A, CO, "medium", "closed", "basically_satisfied", "2026-01-01T10:00:00Z", "2026-01-01T10:00:01Z", "2026-01-02T06:00:00Z", "2026-01-02T06:00:01Z", "sanitation", "1"),
        ("a3", A, CO, "medium", "assigned", None, "2026-01-01T10:00:00Z", None, "2026-01-02T06:00:00Z", None, "parking", "2"),
        ("a4", A, CO, "urgent", "assigned", "unsatisfied", "2026-01-01T06:15:00Z", "2026-01-01T06:10:00Z", "2999-01-01T00:00:00Z", None, "parking", "2"),
        ("a5", A, CO, "general", "merged", None, "2026-01-01T10:00:00Z", None, "2026-01-01T10:00:00Z", None, "sanitation", "1"),
        ("a6", A, CO, "general", "cancelled", None, "2026-01-01T10:00:00Z", None, "2026-01-01T10:00:00Z", None, "sanitation", "1"),
        ("a7", A, CO, "difficult", "in_progress", None, "2026-01-01T10:00:00Z", "2026-01-01T08:00:00Z", "2999-01-01T00:00:00Z", None, "facility_damage", "3"),
        ("b1", B, CO2, "general", "closed", "satisfied", "2026-01-01T10:00:00Z", "2026-01-01T09:00:00Z", "2026-01-01T14:00:00Z", "2026-01-01T13:00:00Z", "sanitation", "1"),
        ("c1", C, CO2, "general", "assigned", None, "2026-01-01T10:00:00Z", None, "2026-01-01T14:00:00Z", None, "sanitation", "1"),
    ]
    values = []
    for (tid, com, co, tier, status, rating, rdue, rat, sdue, sat, cat, bld) in rows:
        lit = lambda v: "NULL" if v is None else f"'{v}'"
        summary = "'=HYPERLINK(\"x\") 电话 13812345678'" if tid == "a3" else "'楼道堆物'"
        values.append(f"('{tid}-{RUN}', '{com}', '{co}', 'report', '{cat}', '{tier}', '{status}', 'w-{RUN}', "
                      f"{lit(rating)}, '2026-01-01T06:00:00Z', '{DAY}', {lit(rdue)}, {lit(rat)}, {lit(sdue)}, "
                      f"{lit(sat)}, now(), 0, 0, '{bld}', {summary}, {2 if tid == 'a3' else 0}, {tid == 'a7'})")
    psql("INSERT INTO shequ.tickets (ticket_id, community_id, company_id, source, category, tier, status, "
         "assignee_id, rating, created_at, created_day, respond_due, responded_at, resolve_due, resolved_at, "
         "updated_at, log_partition, log_offset, building, summary, escalation_level, repeat) VALUES "
         + ", ".join(values))
    psql(f"""
INSERT INTO shequ.ticket_events (event_id, ticket_id, type, occurred_at, actor_id, detail, log_partition, log_offset) VALUES
  ('e1-{RUN}', 'a3-{RUN}', 'created', '2026-01-01T06:00:00Z', 'triage', '{{"tier":"medium"}}', 0, 0),
  ('e2-{RUN}', 'a3-{RUN}', 'assigned', '2026-01-01T06:00:01Z', 'triage', '{{"assignee":"w-{RUN}"}}', 0, 0),
  ('e3-{RUN}', 'a3-{RUN}', 'escalated', '2026-01-01T12:00:00Z', 'sla', '{{"level":2,"note":"call 13912345678"}}', 0, 0),
  ('e4-{RUN}', 'a3-{RUN}', 'rejected', '2026-01-01T12:30:00Z', 'resident-{RUN}', '{{"reason":"not the assignee"}}', 0, 0);
""")
    for user, who in ((f"sup{RUN}", f"sup-{RUN}"), (f"str{RUN}", f"str-{RUN}"), (f"ops{RUN}", "district")):
        subprocess.run([os.path.join(ROOT, "tools", "dev"), "dashboard-user", user, who, PASSWORD], check=True)


def cleanup():
    psql(f"""
DELETE FROM shequ.dashboard_users WHERE username IN ('sup{RUN}', 'str{RUN}', 'ops{RUN}');
DELETE FROM shequ.ticket_events WHERE ticket_id LIKE '%-{RUN}';
DELETE FROM shequ.tickets WHERE ticket_id LIKE '%-{RUN}' OR community_id LIKE '%-{RUN}';
DELETE FROM shequ.staff WHERE staff_id LIKE '%-{RUN}';
DELETE FROM shequ.communities WHERE community_id LIKE '%-{RUN}';
DELETE FROM shequ.companies WHERE company_id LIKE '%-{RUN}';
DELETE FROM shequ.streets WHERE street_id LIKE '%-{RUN}';
""")


def headline_matches_hand_computed(street):
    s, k = street.json("/api/kpi", scope=f"community:{A}", **{"from": DAY, "to": DAY})
    check(s == 200, f"kpi for community A answers 200 ({s})")
    want = {"tickets": 5, "responded": 4, "responded_on_time": 3, "respond_due": 5, "resolved": 2,
            "resolved_on_time": 1, "resolve_due": 3, "rated": 3, "satisfied": 2, "overdue_open": 1,
            "response_on_time_rate": 0.6, "completion_on_time_rate": 0.333333, "reply_rate": 0.8,
            "satisfaction_rate": 0.666667}
    for key, value in want.items():
        check(k.get(key) == value, f"headline {key} = {value} (got {k.get(key)})")
    view = psql(f"SELECT tickets, responded, responded_on_time, round(response_on_time_rate, 6), resolved, "
                f"resolved_on_time, round(completion_on_time_rate, 6), rated, satisfied, round(satisfaction_rate, 6), "
                f"round(reply_rate, 6), overdue_open FROM shequ.kpi_daily WHERE community_id = '{A}' AND day = '{DAY}'",
                role="reader").split("|")
    mine = [k["tickets"], k["responded"], k["responded_on_time"], k["response_on_time_rate"], k["resolved"],
            k["resolved_on_time"], k["completion_on_time_rate"], k["rated"], k["satisfied"],
            k["satisfaction_rate"], k["reply_rate"], k["overdue_open"]]
    check([float(v) for v in view] == [float(v) for v in mine], f"headline equals kpi_daily to the digit ({view})")
    check("respond deadline" in k.get("formulas", {}).get("response_on_time_rate", ""), "formulas come with the figures")
    s, k = street.json("/api/kpi", scope=f"street:{STREET}", **{"from": DAY, "to": DAY})
    check(s == 200 and k["tickets"] == 6 and k["resolved_on_time"] == 2, f"street sums A and B (tickets {k.get('tickets')})")
    s, k = street.json("/api/kpi", scope=f"company:{CO2}", **{"from": DAY, "to": DAY})
    check(s == 200 and k["tickets"] == 1, f"company scope within the street leaves out C's tickets ({k.get('tickets')})")
    s, k = street.json("/api/kpi", scope=f"community:{B}", **{"from": "2026-01-02", "to": "2026-01-31"})
    check(s == 200 and k["tickets"] == 0 and k["response_on_time_rate"] is None, "a period with nothing due has null rates")


def tables(street, district):
    s, t = street.json("/api/trend", scope=f"street:{STREET}", **{"from": "2025-12-31", "to": "2026-01-02"})
    days = [(r["day"], r["tickets"]) for r in t.get("rows", [])]
    check(days == [("2025-12-31", 0), ("2026-01-01", 6), ("2026-01-02", 0)], f"trend has every day of the period {days}")
    s, t = street.json("/api/ranking", by="community", scope=f"street:{STREET}", **{"from": DAY, "to": DAY})
    order = [r["id"] for r in t.get("rows", [])]
    check(order == [B, A], f"communities ranked by completion rate, best first {order}")
    s, t = district.json("/api/ranking", by="company", scope="district", **{"from": DAY, "to": DAY})
    mine = {r["id"]: r["tickets"] for r in t.get("rows", []) if r["id"] in (CO, CO2)}
    check(mine == {CO: 5, CO2: 2}, f"companies ranked across the district {mine}")
    s, t = street.json("/api/overdue", scope=f"street:{STREET}")
    ids = [r["ticket_id"] for r in t.get("rows", [])]
    check(ids == [f"a3-{RUN}"], f"overdue list of the street holds a3 only {ids}")
    row = (t.get("rows") or [{}])[0]
    check(row.get("escalation_level") == 2 and row.get("late_by_s", 0) > 86400 and row.get("assignee") == f"维修工 {RUN}",
          "overdue row: level, how late, assignee's name")
    s, t = street.json("/api/hotspots", scope=f"street:{STREET}")
    check(s == 200 and isinstance(t.get("rows"), list), "hotspots answer (created_at is old, so none are recent)")
    s, t = street.json(f"/api/tickets/a3-{RUN}")
    check(s == 200 and [e["type"] for e in t.get("events", [])] == ["created", "assigned", "escalated", "rejected"],
          "ticket timeline in order")
    clocks = {c["clock"]: c["state"] for c in t.get("clocks", [])}
    check(clocks == {"respond": "overdue", "resolve": "overdue"}, f"clocks against deadlines {clocks}")
    body = json.dumps(t, ensure_ascii=False)
    check("13812345678" not in body and "13912345678" not in body, "no phone number in the ticket page")
    check(t["events"][3]["actor_id"] == "resident" and t["events"][2]["detail"].get("level") == 2,
          "a resident actor is not named; the escalation level is shown")
    s, t = street.json(f"/api/tickets/a1-{RUN}")
    clocks = {c["clock"]: c["state"] for c in t.get("clocks", [])}
    check(clocks == {"respond": "on_time", "resolve": "on_time"}, f"exactly at the deadline is on time {clocks}")
    s, rep = street.json("/api/report", community=A, quarter="2026Q1")
    check(s == 200 and rep["from"] == "2026-01-01" and rep["to"] == "2026-03-31" and rep["kpi"]["tickets"] == 5,
          "quarterly report covers the quarter")
    cats = {r["category"]: r["tickets"] for r in rep.get("by_category", [])}
    check(cats == {"sanitation": 2, "parking": 2, "facility_damage": 1}, f"report by category {cats}")
    check(rep.get("escalations") == [{"level": 2, "tickets": 1}], f"report escalations {rep.get('escalations')}")
    check(rep.get("community", {}).get("street") == f"测试街道 {RUN}", "report names the street")


def csv_exports(street):
    status, headers, raw = street.call("GET", f"/api/overdue?scope=street:{STREET}&format=csv")
    check(status == 200 and raw.startswith(b"\xef\xbb\xbf"), "CSV starts with the UTF-8 BOM")
    check("attachment" in headers.get("Content-Disposition", ""), "CSV is a download")
    text = raw.decode("utf-8-sig")
    check(text.splitlines()[0].startswith("ticket_id,community_id,community"), "CSV header names the columns")
    check(f"a3-{RUN}" in text and f"幸福里 {RUN}" in text, "CSV holds the rows, Chinese intact")
    status, _, raw = street.call("GET", f"/api/tickets/a3-{RUN}?format=csv")
    text = raw.decode("utf-8-sig")
    check(status == 200 and "13912345678" not in text and "139********" in text,
          "timeline CSV masks phone numbers")
    status, _, raw = street.call("GET", f"/api/ranking?by=community&scope=street:{STREET}&from={DAY}&to={DAY}&format=csv")
    check(status == 200 and raw.decode("utf-8-sig").count("\r\n") == 3, "ranking CSV: header and two rows")


def formula_cells_are_inert(district):
    psql(f"UPDATE shequ.communities SET name = '=cmd|calc {RUN}' WHERE community_id = '{B}'")
    status, _, raw = district.call("GET", f"/api/ranking?by=community&scope=street:{STREET}&from={DAY}&to={DAY}&format=csv")
    text = raw.decode("utf-8-sig")
    check("\"'=cmd|calc" in text, "a cell starting with '=' is quoted inert in CSV")
    psql(f"UPDATE shequ.communities SET name = '和平苑 {RUN}' WHERE community_id = '{B}'")


def scope_is_enforced(sup, street):
    s, k = sup.json("/api/kpi", **{"from": DAY, "to": DAY})
    check(s == 200 and k["scope"] == f"community:{A}" and k["tickets"] == 5, "a supervisor's default scope is their community")
    for forged in (f"community:{B}", f"community:{C}", f"street:{STREET}", "district", f"community:{A}' OR '1'='1"):
        s, body = sup.json("/api/kpi", scope=forged)
        check(s in (400, 403), f"supervisor asking scope={forged!r} is refused ({s})")
    s, body = sup.json("/api/overdue", scope=f"company:{CO2}")
    check(s == 200 and body["rows"] == [], "a company scope is cut to the supervisor's community")
    s, body = sup.json("/api/report", community=B, quarter="2026Q1")
    check(s == 403, f"report of another community is 403 ({s})")
    s, body = sup.json(f"/api/tickets/b1-{RUN}")
    check(s == 404, f"another community's ticket is 404 ({s})")
    s, body = street.json("/api/kpi", scope=f"community:{C}")
    check(s == 403, f"a street officer cannot read another street's community ({s})")
    s, body = street.json("/api/kpi", scope="community:no-such-community")
    check(s == 403, f"an unknown community outside the street is 403 ({s})")
    s, me = sup.json("/api/me")
    check(s == 200 and [x["scope"] for x in me["scopes"]] == [f"community:{A}", f"company:{CO}"],
          f"a supervisor may pick only their community and its company {[x['scope'] for x in me.get('scopes', [])]}")


def bad_input_and_auth(street):
    for params, field in (({"from": "2026-02-30"}, "from"), ({"to": "yesterday"}, "to"),
                          ({"from": "2026-03-01", "to": "2026-02-01"}, "from"), ({"scope": "planet:x"}, "scope"),
                          ({"format": "xml"}, "format")):
        s, body = street.json("/api/kpi", **params)
        check(s == 400 and body.get("error", {}).get("field") == field, f"400 naming {field} for {params}")
    s, body = street.json("/api/overdue", limit="0")
    check(s == 400 and body["error"]["field"] == "limit", "limit out of range is 400")
    s, body = street.json("/api/report", community=A, quarter="2026Q5")
    check(s == 400 and body["error"]["field"] == "quarter", "bad quarter is 400")
    s, body = street.json("/api/nothing")
    check(s == 404, "unknown endpoint is 404")
    anon = Client()
    s, body = anon.json("/api/kpi")
    check(s == 401, "no cookie is 401")
    s, body = anon.login(f"str{RUN}", "wrong password")
    check(s == 401, "a wrong password is 401")
    s, body = anon.login("no such user!", "x")
    check(s == 400 and body["error"]["field"] == "username", "a malformed user name is 400")
    status, _, raw = anon.call("GET", "/api/kpi", headers={"Cookie": f"shequ_session=ops{RUN}~99999999999~" + "0" * 64})
    check(status == 401, "a forged session cookie is 401")
    status, _, raw = anon.call("POST", "/api/login", {"username": "x", "password": "y" * 5000})
    check(status == 413, f"a body over 4 KiB is 413 ({status})")
    status, _, raw = anon.call("GET", "/../../etc/passwd")
    check(status == 404, "no path outside the web directory")
    status, headers, raw = anon.call("GET", "/")
    check(status == 200 and b"<html" in raw.lower() and "default-src 'self'" in headers.get("Content-Security-Policy", ""),
          "the page is served with a content security policy")


def long_ticket_id(district):
    """Ticket ids carry their community ("<community_id>.<uuid>"): one with a 64-character community opens."""
    community = "c" + "x" * (61 - len(RUN)) + "-" + RUN  # 64 characters, cleaned up with the rest
    tid = f"{community}.{uuid.uuid4()}"
    psql(f"INSERT INTO shequ.communities (community_id, name, street_id, company_id) VALUES "
         f"('{community}', '长 {RUN}', '{OTHER_STREET}', '{CO2}');"
         f"INSERT INTO shequ.tickets (ticket_id, community_id, company_id, source, category, tier, status, created_at, "
         f"created_day, updated_at, log_partition, log_offset) VALUES ('{tid}', '{community}', '{CO2}', 'report', "
         f"'sanitation', 'general', 'closed', '2025-06-01T06:00:00Z', '2025-06-01', now(), 0, 0)")
    s, t = district.json(f"/api/tickets/{tid}")
    check(s == 200 and tid in json.dumps(t), f"a {len(tid)}-character ticket id opens ({s})")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def two_instances(user):
    """Sign in at one instance, use the cookie at another: the key comes from the file both read."""
    build = ENV.get("SHEQU_BUILD_DIR", os.path.join(ROOT, "build", "test"))
    tmp = tempfile.mkdtemp(prefix="shequ-dash-")
    shared, other = os.path.join(tmp, "shared.key"), os.path.join(tmp, "other.key")
    for path in (shared, other):
        with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(os.urandom(32).hex() + "\n")
    ports, procs = [free_port(), free_port(), free_port()], []
    for i, (port, key) in enumerate(zip(ports, (shared, shared, other))):
        env = dict(ENV, SHEQU_HTTP_PORT=str(port), SHEQU_ADMIN_PORT="0", SHEQU_SESSION_KEY_FILE=key,
                   SHEQU_PG_DSN=ENV.get("PG_READER_DSN", "postgresql://shequ_reader:shequ_reader@127.0.0.1:15432/shequ"),
                   SHEQU_WEB_DIR=os.path.join(ROOT, "services", "dashboard", "web"), SHEQU_INSTANCE=f"d{i}",
                   ASAN_OPTIONS=ENV.get("ASAN_OPTIONS", "detect_leaks=0"))
        env.pop("SHEQU_SESSION_KEY", None)
        log = open(os.path.join(tmp, f"dashboard-{i}.log"), "ab")
        procs.append(subprocess.Popen([os.path.join(build, "services", "dashboard", "dashboard")], env=env,
                                      stdout=log, stderr=log, cwd=ROOT))
    global DASH
    saved = DASH
    try:
        def at(i):
            global DASH
            DASH = f"http://127.0.0.1:{ports[i]}"
        for i in range(3):
            at(i)
            deadline = time.time() + 20
            while time.time() < deadline:
                try:
                    Client().call("GET", "/api/me")
                    break
                except OSError:
                    time.sleep(0.2)
        first = Client()
        at(0)
        s, body = first.login(user)
        check(s == 200, f"{user} signs in at the first instance ({s})")
        cookie = next((c.value for c in first.jar if c.name == "shequ_session"), "")
        at(1)
        status, _, raw = Client().call("GET", "/api/me", headers={"Cookie": f"shequ_session={cookie}"})
        me = json.loads(raw or b"{}") if status == 200 else {}
        check(status == 200 and me.get("user", me).get("username") == user,
              f"the second instance (same session.key_file) accepts the first one's cookie ({status})")
        at(2)
        status, _, _ = Client().call("GET", "/api/me", headers={"Cookie": f"shequ_session={cookie}"})
        check(status == 401, f"an instance with another key refuses it ({status})")
    finally:
        DASH = saved
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def browser(street_user):
    node_path = ENV.get("PLAYWRIGHT_NODE_PATH", "")
    if not os.path.isdir(os.path.join(node_path, "playwright-core")):
        check(False, f"playwright-core is installed (tools/dev deps) at {node_path}")
        return
    artifacts = ENV.get("ARTIFACTS_DIR") or os.path.join(ENV.get("SHEQU_BUILD_DIR", "/tmp"), "artifacts", "dashboard")
    os.makedirs(artifacts, exist_ok=True)
    # ES modules do not read NODE_PATH: run the script from a directory whose node_modules is the cache
    script = os.path.join(os.path.dirname(node_path), "browser.test.mjs")
    with open(os.path.join(ROOT, "tests", "dashboard", "browser", "browser.test.mjs")) as src, open(script, "w") as dst:
        dst.write(src.read())
    env = dict(ENV, DASHBOARD_URL=DASH, DASH_USER=street_user, DASH_PASSWORD=PASSWORD,
               DASH_COMMUNITY_SCOPE=f"community:{A}", DASH_TICKET_ID=f"a3-{RUN}", ARTIFACTS_DIR=artifacts,
               DASH_FROM=DAY, DASH_TO=DAY)
    out = subprocess.run(["node", script], capture_output=True, text=True, env=env, timeout=120)
    sys.stdout.write(out.stdout[-3000:])
    sys.stderr.write(out.stderr[-3000:])
    check(out.returncode == 0, f"browser test passed (screenshots in {artifacts})")
    for line in out.stdout.splitlines():
        if line.startswith("HEADLINE "):
            shown = json.loads(line[len("HEADLINE "):])["values"]
            check(shown.get("tickets") == 5 and shown.get("response_on_time_rate") == 0.6,
                  f"the page shows the API's figures {shown}")
            break
    else:
        check(False, "the browser test printed the headline it saw")
    for name in ("overview.png", "ticket.png", "report.png"):
        check(os.path.getsize(os.path.join(artifacts, name)) > 10000, f"screenshot {name} kept")


def main():
    fixture()
    try:
        sup, street, district = Client(), Client(), Client()
        for client, user in ((sup, f"sup{RUN}"), (street, f"str{RUN}"), (district, f"ops{RUN}")):
            s, body = client.login(user)
            check(s == 200, f"{user} signs in ({s} {body})")
        headline_matches_hand_computed(street)
        tables(street, district)
        csv_exports(street)
        formula_cells_are_inert(district)
        scope_is_enforced(sup, street)
        bad_input_and_auth(street)
        two_instances(f"sup{RUN}")
        long_ticket_id(district)
        browser(f"str{RUN}")
    finally:
        cleanup()
    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 1 if RESULTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
