#!/usr/bin/env python3
"""Scale-out gives the result of one instance (issue 15, DESIGN.md §1 "Partitioning and state").

Run A, on its own topic set and database: 3 instances each of triage, workflow, sla and recorder, a
compactor, 2 gateways, 2 notifiers and 2 alarm bridges. A mixed workload through the public interfaces
only (signed HTTP to the gateways in turn, MQTT alarms as a device), 8 communities × 4 buildings:

  b0  high_throw: reported twice (→ merged), a camera alarm (→ joins the report's ticket) and a repeat
      alarm of the same camera (→ occurrence);
  b1  sanitation: reported twice, accepted and resolved right after creation, rated;
  b2  noise: reported twice, accepted and resolved; in communities 0-3 reported again (→ a second
      ticket, resolved), and a third time (→ a third ticket within 30 days, flagged repeat);
  b3  dispute (difficult): reported twice, planned with a deadline 20 s ahead and left open
      (→ sla_warning, sla_breached, escalated to level 3).

In the middle one instance of every service is killed with SIGKILL and one more started (partitions
move twice); the second reports of communities 4-7 arrive after the kill. Run B is the same workload,
live, through the same public interfaces, against ONE instance each of triage, workflow, sla, recorder,
compactor, gateway, notifier and alarm bridge on a second topic set and database, without kills. Every
request carries the same Idempotency-Key in both runs (the gateway derives report and event ids from
"<client>/<key>") and the alarms the same ids, so the two runs make the same report, ticket and event
ids. A and B must hold the same tickets, ticket events and KPIs but for what depends on the wall clock
(see COMPARED), nothing may be dead-lettered, and A must hold the expected merges, occurrences, repeat
and breaches. Needs `tools/dev env`, psql, mosquitto_pub and the shared stack.

(A replay of A's inputs would not do as the reference: in a catch-up triage and workflow work through
the backlog at their own speeds, and whether a report merges depends on whether workflow has already
emitted an earlier ticket's `resolved`; there is no event-time watermark between services.)
"""
import datetime
import difflib
import hashlib
import hmac
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

ENV = os.environ
BUILD = ENV.get("SHEQU_BUILD_DIR", "build/test")
SRC = ENV.get("SHEQU_SOURCE_DIR", ".")
BROKERS = ENV.get("KAFKA_BROKERS", "127.0.0.1:19092")
HOST, PORT = ENV.get("MQTT_HOST", "127.0.0.1"), ENV.get("MQTT_PORT", "11883")
CLIENT, SECRET = ENV.get("SHEQU_CLIENT_ID", ""), ENV.get("SHEQU_CLIENT_SECRET", "").encode()
U = uuid.uuid4().hex[:8]
LOGDIR = tempfile.mkdtemp(prefix="shequ-scaleout-")
RESULTS = {"passed": 0, "failed": 0}
COMMUNITIES = [f"so-{U}-c{i}" for i in range(8)]
BUILDINGS = ["b0", "b1", "b2", "b3"]
CATEGORY = {"b0": "high_throw", "b1": "sanitation", "b2": "noise", "b3": "dispute"}
PHONE_KEY = "6a3f0c2e9b8d7a6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d"


def check(cond, what):
    RESULTS["passed" if cond else "failed"] += 1
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    return cond


def note(what):
    print(f"     [{time.strftime('%H:%M:%S')}] {what}", flush=True)


def uuid5(ns, name):  # as services/common/util.c sq_uuid5 makes them
    d = bytearray(hashlib.sha1(ns.encode() + b"\0" + name.encode()).digest()[:16])
    d[6] = (d[6] & 0x0F) | 0x50
    d[8] = (d[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(d)))


def ticket_id(community, origin):  # services/domain/ticket.c sq_ticket_id_make
    return f"{community}.{uuid5('ticket', origin)}"


def wait_for(fn, timeout=30, every=0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(every)
    return fn()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ databases

def dsn(role, db):
    return f"postgresql://shequ_{role}:shequ_{role}@127.0.0.1:15432/{db}"


def sql(db, text, role="owner"):
    out = subprocess.run(["psql", dsn(role, db), "-qtAX", "-v", "ON_ERROR_STOP=1"], input=text, capture_output=True,
                         text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return out.stdout.strip()


def copy_out(db, query):
    out = subprocess.run(["psql", dsn("reader", db), "-XqAt", "-c", f"COPY ({query}) TO STDOUT"], capture_output=True,
                         text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return out.stdout.splitlines()


def make_db(db):
    subprocess.run([f"{SRC}/tools/dev", "createdb", db], check=True, cwd=SRC)
    subprocess.run([f"{SRC}/tools/migrate"], check=True, cwd=SRC, capture_output=True,
                   env=dict(ENV, PG_OWNER_DSN=dsn("owner", db)))
    # the directory: a street, one property company per community, two staff members with every skill
    # the workload needs, a manager and a supervisor per community
    rows = [f"INSERT INTO shequ.streets (street_id, name) VALUES ('so-{U}-s', 'scale-out street');"]
    skills = "{" + ",".join(CATEGORY.values()) + "}"
    for cm in COMMUNITIES:
        rows.append(f"INSERT INTO shequ.companies (company_id, name) VALUES ('{cm}-co', 'company of {cm}');")
        rows.append(f"INSERT INTO shequ.communities (community_id, name, street_id, company_id, buildings) "
                    f"VALUES ('{cm}', 'community {cm}', 'so-{U}-s', '{cm}-co', 4);")
        for sid, role in ((f"{cm}-w1", "staff"), (f"{cm}-w2", "staff"), (f"{cm}-mgr", "manager"),
                          (f"{cm}-sup", "supervisor")):
            rows.append(f"INSERT INTO shequ.staff (staff_id, name, role, company_id, community_id, skills) VALUES "
                        f"('{sid}', '{sid}', '{role}', '{cm}-co', '{cm}', '{skills if role == 'staff' else '{}'}');")
    sql(db, "\n".join(rows))


def drop_db(db):
    subprocess.run([f"{SRC}/tools/dev", "dropdb", db], cwd=SRC, capture_output=True)


# ------------------------------------------------------------------ processes

class Run:
    """One topic set, one database and the service instances started on them."""

    def __init__(self, name):
        self.name, self.prefix, self.db = name, f"so.{U}.{name}.", f"so_{U}_{name}"
        self.procs = []  # (service, instance, Popen)
        self.stopped = set()  # Popen objects stopped on purpose before the end
        self.http = {}   # gateway instance → port

    def start(self, service, instance):
        env = dict(ENV)
        env.update({"SHEQU_TOPIC_PREFIX": self.prefix, "SHEQU_KAFKA_BROKERS": BROKERS, "SHEQU_ADMIN_PORT": "0",
                    "SHEQU_SERVICE": service, "SHEQU_INSTANCE": instance,
                    "SHEQU_KAFKA_GROUP": f"so-{U}-{self.name}-{service}", "SHEQU_KAFKA_SESSION_TIMEOUT_MS": "6000",
                    "SHEQU_PG_DSN": dsn("writer", self.db), "SHEQU_RULES_FILE": f"{SRC}/deploy/rules/shequ.rules",
                    "SHEQU_REDIS_PREFIX": f"so:{U}:{self.name}:", "SHEQU_LOG_LEVEL": "info",
                    "SHEQU_MQTT_HOST": HOST, "SHEQU_MQTT_PORT": PORT,
                    "ASAN_OPTIONS": ENV.get("ASAN_OPTIONS", "detect_leaks=0")})
        args = [f"{BUILD}/services/{service}/{service}"]
        if os.path.exists(f"{SRC}/deploy/config/{service}.conf"):
            args += ["--config", f"{SRC}/deploy/config/{service}.conf"]
        if service == "gateway":
            port = free_port()
            self.http[instance] = port
            env.update({"SHEQU_HTTP_PORT": str(port), "SHEQU_CLIENTS_FILE": f"{SRC}/deploy/clients/dev.clients"})
            args += ["--http-port", str(port)]
        elif service == "notifier":
            env.update({"SHEQU_MQTT_USER": ENV["MQTT_NOTIFIER_USER"], "SHEQU_MQTT_PASSWORD": ENV["MQTT_NOTIFIER_PASSWORD"],
                        "SHEQU_MQTT_CLIENT_ID": f"so-notifier-{U}-{self.name}", "SHEQU_PHONE_KEY": PHONE_KEY})
        elif service == "alarm-bridge":
            env.update({"SHEQU_MQTT_USER": ENV["MQTT_BRIDGE_USER"], "SHEQU_MQTT_PASSWORD": ENV["MQTT_BRIDGE_PASSWORD"],
                        "SHEQU_MQTT_CLIENT_ID": f"so-bridge-{U}-{self.name}", "SHEQU_MQTT_SHARE_GROUP": f"so-{U}-{self.name}",
                        "SHEQU_MQTT_PROCESSES": "2", "SHEQU_MQTT_CONNECTIONS": "2",
                        "SHEQU_MQTT_PERSIST_DIR": os.path.join(LOGDIR, f"paho-{self.name}-{instance}")})
        log = open(os.path.join(LOGDIR, f"{self.name}-{service}-{instance}.log"), "ab")
        p = subprocess.Popen(args, env=env, stdout=log, stderr=log, cwd=SRC)
        self.procs.append((service, instance, p))
        return p

    def kill(self, service, instance):
        for s, i, p in self.procs:
            if s == service and i == instance and p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait()
                if service == "gateway":
                    self.http.pop(instance, None)

    def stop(self, service):
        """Stops every instance of service (SIGTERM), on purpose."""
        for s, i, p in self.procs:
            if s == service and p.poll() is None:
                p.terminate()
                p.wait(timeout=25)
                self.stopped.add(p)

    def stop_all(self):
        live = [(s, i, p) for s, i, p in self.procs if p.poll() is None]
        for _, _, p in live:
            p.terminate()
        for s, i, p in live:
            try:
                p.wait(timeout=25)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                print(f"     {self.name} {s}-{i} needed SIGKILL to stop")

    def dead(self):
        return [f"{s}-{i} ({p.returncode})" for s, i, p in self.procs
                if p.poll() is not None and p.returncode != -9 and p not in self.stopped]


def forget_mqtt_sessions(run, instances):
    """The bridges' persistent sessions (as test_mqtt_instances does): a clean connect with each client id."""
    for inst in instances:
        for p in range(2):
            for c in range(2):
                subprocess.run(["mosquitto_sub", "-h", HOST, "-p", PORT, "-u", ENV["MQTT_BRIDGE_USER"],
                                "-P", ENV["MQTT_BRIDGE_PASSWORD"], "-i", f"so-bridge-{U}-{run}-{inst}-p{p}-{c}",
                                "-t", "devices/+/+/alarm", "-E"], capture_output=True, timeout=10)


# ------------------------------------------------------------------ the public interfaces

class Client:
    def __init__(self, run):
        self.run, self.n = run, 0

    def call(self, method, path, body=None, port=None, key=None):
        """key: the request's Idempotency-Key, named by the workload for requests that write (the same in
        both runs, hence the same ids); a random one for reads."""
        if port is None:  # the gateways in turn
            ports = [self.run.http[k] for k in sorted(self.run.http)]
            port = ports[self.n % len(ports)]
            self.n += 1
        data = b"" if body is None else json.dumps(body).encode()
        ts = str(int(time.time()))
        msg = f"{ts}\n{method}\n{path}\n".encode() + data
        h = {"Content-Type": "application/json", "Idempotency-Key": key or str(uuid.uuid4()), "X-Shequ-Client": CLIENT,
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


def pub_alarm(community, device, alarm_id, building, alarm_type="high_throw"):
    payload = json.dumps({"alarm_id": alarm_id, "type": alarm_type, "state": "raised", "level": "major",
                          "building": building, "unit": "1"})
    return subprocess.run(["mosquitto_pub", "-h", HOST, "-p", PORT, "-q", "1", "-u", ENV["MQTT_DEVICE_USER"],
                           "-P", ENV["MQTT_DEVICE_PASSWORD"], "-t", f"devices/{community}/{device}/alarm", "-m", payload],
                          capture_output=True, timeout=20).returncode


def rfc3339(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def request_key(label):
    """The Idempotency-Key of the workload's request named label: the same in both runs."""
    return uuid5(f"so-{U}", label)


class Workload:
    def __init__(self, run):
        self.run, self.cl = run, Client(run)
        self.reports = {}   # report_id → (community, building, answered status)
        self.first = {}     # (community, building) → report_id of the place's first report
        self.refused = []
        self.reporter = {}  # report_id → its resident: only they may rate the ticket

    def report(self, cm, b, what=""):
        label = f"report/{cm}/{b}/{what}"
        reporter = f"wx-{request_key(label).replace('-', '')[:10]}"
        s, body = self.cl.call("POST", "/v1/reports", {
            "community_id": cm, "reporter_id": reporter, "category": CATEGORY[b],
            "description": f"{CATEGORY[b]} at {b} {what}", "building": b, "unit": "1"}, key=request_key(label))
        rid = body.get("report_id")
        if s != 202 or not rid:
            self.refused.append(f"report {cm}/{b}: {s} {body}")
        else:
            self.reports[rid] = (cm, b)
            self.reporter[rid] = reporter
            self.first.setdefault((cm, b), rid)
        return rid

    def status(self, rid, want=None, timeout=40):
        def get():
            s, body = self.cl.call("GET", f"/v1/reports/{rid}")
            if s == 200 and body.get("ticket_id") and (want is None or body.get("status") == want):
                return body
            return None
        return wait_for(get, timeout) or {}

    def action(self, tid, actor, action, **extra):
        s, body = self.cl.call("POST", f"/v1/tickets/{tid}/actions", dict({"actor_id": actor, "action": action}, **extra),
                               key=request_key(f"{action}/{tid}"))
        if s != 202:
            self.refused.append(f"{action} {tid}: {s} {body}")
        return s

    def rate(self, tid, reporter, rating="satisfied"):
        s, body = self.cl.call("POST", f"/v1/tickets/{tid}/feedback", {"reporter_id": reporter, "rating": rating},
                               key=request_key(f"rating/{tid}"))
        if s != 202:
            self.refused.append(f"rating {tid}: {s} {body}")
        return s


# ------------------------------------------------------------------ settling and comparing

def settle(db, expect, timeout, quiet_s=8):
    """Until shequ.ticket_events stops growing for quiet_s seconds and expect(db) holds (or timeout)."""
    deadline, last, since = time.time() + timeout, None, time.time()
    while time.time() < deadline:
        n = sql(db, "SELECT count(*) FROM shequ.ticket_events")
        if n != last:
            last, since = n, time.time()
        elif time.time() - since >= quiet_s and expect(db):
            return True
        time.sleep(1)
    return False


# What two live runs made at different times can be compared on. Left out of every table and view:
# - columns of a time type (timestamptz: created_at, updated_at, the *_due deadlines, the *_at moments,
#   accepted_at, recorded_at, device_time; date: tickets.created_day, the KPI views' day): wall clock;
# - shequ.tickets.paused_seconds: a duration measured on the wall clock;
# - tickets.log_offset: where an event landed in the log. Several producers (three
#   triage, workflow and sla instances, one of each killed) interleave their events on a partition
#   differently from one instance, and a killed instance's unacknowledged batch is sent again
#   (at-least-once: the same event ids, new offsets). log_partition stays.
# shequ.ticket_events is compared as a multiset of (ticket_id, type, actor_id, detail) with the detail's
# time-valued keys removed (TIME_KEYS: planned's agreed deadline, an absolute time the workload sets from
# its clock), and without event_id: sla's events (sla_warning, sla_breached, escalated) take theirs from
# the deadline they are about. The other events' ids derive from the request's Idempotency-Key and are
# compared as well ("ticket_event_ids").
# The KPI views' counts and rates are compared per community (company, staff) and day, the day itself
# left out, unless the runs straddle midnight in Asia/Shanghai (then the rows would split differently).
LEAVE_OUT = {"paused_seconds": "wall-clock duration", "log_offset": "where in the log, not a decision"}
TIME_TYPES = ("timestamp with time zone", "timestamp without time zone", "date", "interval")
TIME_KEYS = ("deadline",)
SLA_EVENTS = ("sla_warning", "sla_breached", "escalated")
# shequ.deadletters (which must stay empty in both) on reason and service: its topics carry the run's
# prefix and its offsets are where in the log.
COMPARED = [  # name, table or view (every column but those above) or query, is a KPI view, which rows
    ("tickets", "tickets", False, ""),
    ("reports", "reports", False, ""),
    ("alarms", "alarms", False, ""),
    ("deadletters", "SELECT reason, service FROM shequ.deadletters ORDER BY 1, 2", False, ""),
    ("kpi_rollup", "kpi_rollup", True, "WHERE tickets <> 0"),
    ("kpi_daily", "kpi_daily", True, ""),
    ("kpi_daily_company", "kpi_daily_company", True, ""),
    ("kpi_daily_staff", "kpi_daily_staff", True, ""),
]


def shanghai_day(t=None):
    return datetime.datetime.fromtimestamp(t or time.time(), datetime.timezone(datetime.timedelta(hours=8))).date()


def compared_columns(db, table):
    rows = sql(db, f"SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'shequ' "
                   f"AND table_name = '{table}' ORDER BY ordinal_position", role="reader").splitlines()
    cols = [r.split("|") for r in rows]
    return [c for c, t in cols if t not in TIME_TYPES and c not in LEAVE_OUT]


def table_query(db, table, where=""):
    if table.startswith("SELECT"):
        return table
    cols = compared_columns(db, table)
    return f"SELECT {', '.join(cols)} FROM shequ.{table} {where} ORDER BY " + ", ".join(str(i + 1) for i in range(len(cols)))


def events(db):
    """shequ.ticket_events as sorted (ticket_id, type, actor_id, detail) rows, and the non-sla event ids."""
    out, ids = [], []
    for line in copy_out(db, "SELECT ticket_id, type, actor_id, detail, event_id FROM shequ.ticket_events"):
        t, typ, actor, detail, eid = line.split("\t")
        d = json.loads(detail) if detail not in ("", "\\N") else {}
        for k in TIME_KEYS:
            d.pop(k, None)
        out.append("\t".join((t, typ, actor, json.dumps(d, sort_keys=True, ensure_ascii=False))))
        if typ not in SLA_EVENTS:
            ids.append(f"{t}\t{typ}\t{eid}")
    return sorted(out), sorted(ids)


def compare(a, b, kpis):
    differing = []

    def one(name, la, lb):
        same = la == lb
        print(f"     {name:20s} {'same' if same else 'DIFFERS'} ({len(la)} vs {len(lb)} rows)")
        if not same:
            differing.append(name)
            for line in list(difflib.unified_diff(la, lb, "A", "B", n=0, lineterm=""))[:24]:
                print(f"       {line}")
    ea, ia = events(a)
    eb, ib = events(b)
    one("ticket_events", ea, eb)
    one("ticket_event_ids", ia, ib)
    for name, table, kpi, where in COMPARED:
        if kpi and not kpis:
            print(f"     {name:20s} not compared: the runs straddle midnight in Asia/Shanghai")
            continue
        q = table_query(a, table, where)
        one(name, copy_out(a, q), copy_out(b, q))
    q = ("SELECT community_id, status, count(*), sum(reporter_count), sum(occurrence_count), "
         "count(*) FILTER (WHERE repeat), sum(escalation_level) FROM shequ.tickets GROUP BY 1, 2 ORDER BY 1, 2")
    one("per community", copy_out(a, q), copy_out(b, q))
    return differing


def first_differing_ticket(a, b):
    """The first ticket whose row or events differ between A and B; prints its events in both."""
    ea, eb = events(a)[0], events(b)[0]
    qt = table_query(a, "tickets")
    ta, tb = copy_out(a, qt), copy_out(b, qt)
    per = {}
    for side, rows in (("A", ea + ta), ("B", eb + tb)):
        for r in rows:
            per.setdefault(r.split("\t")[0], {"A": [], "B": []})[side].append(r)
    for t in sorted(per):
        if sorted(per[t]["A"]) != sorted(per[t]["B"]):
            print(f"     first ticket whose row or events differ: {t}")
            q = ("SELECT ticket_id, type, occurred_at, actor_id, detail, event_id FROM shequ.ticket_events "
                 f"WHERE ticket_id = '{t}' ORDER BY occurred_at, type")
            for side, db, rows in (("A", a, ta), ("B", b, tb)):
                for line in [r for r in rows if r.split("\t")[0] == t] + copy_out(db, q):
                    print(f"       {side} {line}")
            return t
    return None


# ------------------------------------------------------------------ the test

MODEL_SERVICES = ["triage", "workflow", "sla", "recorder"]


def start_a(A):
    for s in MODEL_SERVICES:
        for i in ("1", "2", "3"):
            A.start(s, i)
    A.start("compactor", "1")
    for s in ("gateway", "notifier", "alarm-bridge"):
        for i in ("1", "2"):
            A.start(s, i)


def kill_and_add(A):
    """One instance of every service killed with SIGKILL, one more of each started."""
    for s in MODEL_SERVICES:
        A.kill(s, "1")
        A.start(s, "4")
    A.kill("compactor", "1")
    A.start("compactor", "2")
    for s in ("gateway", "notifier", "alarm-bridge"):
        A.kill(s, "1")
        A.start(s, "3")
    # instance names are stable across restarts: the killed bridge comes back as itself, so that what
    # the broker had queued for its persistent session is delivered
    A.start("alarm-bridge", "1")


def start_b(B):
    for s in MODEL_SERVICES + ["compactor", "gateway", "notifier", "alarm-bridge"]:
        B.start(s, "1")


def workload(R, middle, settle_s):
    """The workload, through R's gateways and MQTT; middle(R) halfway (run A: the kills). Every request it
    sends is named (request_key), so that it makes the same ids in either run."""
    n = R.name.upper()
    w = Workload(R)
    ready = wait_for(lambda: all(w.cl.call("GET", "/v1/categories", port=p)[0] == 200 for p in R.http.values()), 60, 1)
    check(bool(ready), f"run {n}: {len(R.procs)} instances started, the gateways answer")
    time.sleep(settle_s)  # the consumer groups form (the inputs are read from the start anyway)

    note("first reports of every place; second reports of communities 0-3")
    for cm in COMMUNITIES:
        for b in BUILDINGS:
            w.report(cm, b, "first")
    time.sleep(3)
    # the second reports of b1 and b2 before their tickets are resolved (a resolved ticket takes no merge);
    # those of b0 and b3 in communities 4-7 come after the kill, on partitions that have moved
    for cm in COMMUNITIES:
        for b in BUILDINGS:
            if cm in COMMUNITIES[:4] or b in ("b1", "b2"):
                w.report(cm, b, "again")
    firsts = {place: w.status(rid) for place, rid in w.first.items()}
    check(all(firsts.values()), f"run {n}: every first report has its ticket ({sum(bool(v) for v in firsts.values())}/32)")
    note("camera alarms on b0; staff act on b1, b2 (accept, resolve) and plan b3")
    for cm in COMMUNITIES:
        check(pub_alarm(cm, f"cam-{cm}-b0", f"al-{U}-{cm}-1", "b0") == 0, f"run {n}: camera alarm of {cm}/b0 published")
    plan_deadline = rfc3339(time.time() + 20)
    for (cm, b), st in firsts.items():
        tid, who = st.get("ticket_id"), st.get("assignee_id")
        if not tid:
            continue
        if b in ("b1", "b2"):
            w.action(tid, who, "accept")
            w.action(tid, who, "resolve", note="done")
        elif b == "b3":
            w.action(tid, who, "plan", deadline=plan_deadline, note="agreed with both neighbours")

    if middle:
        note("SIGKILL one instance of every service, start one more of each")
        middle(R)
        wait_for(lambda: all(w.cl.call("GET", "/v1/categories", port=p)[0] == 200 for p in R.http.values()), 30, 0.5)
    note("second reports of communities 4-7" + (" (during the rebalance)" if middle else "") + ", repeat alarms, ratings")
    for cm in COMMUNITIES[4:]:
        for b in ("b0", "b3"):
            w.report(cm, b, "again")
    for cm in COMMUNITIES:
        check(pub_alarm(cm, f"cam-{cm}-b0", f"al-{U}-{cm}-2", "b0") == 0, f"run {n}: repeat alarm of {cm}/b0 published")
    for cm in COMMUNITIES:
        st = w.status(w.first[(cm, "b1")], want="resolved", timeout=60)
        if check(bool(st), f"run {n}: {cm}/b1 resolved"):
            w.rate(st["ticket_id"], w.reporter[w.first[(cm, "b1")]], "satisfied")

    note("b2 of communities 0-3: a second and a third ticket at the same place (→ repeat)")
    seconds = {}
    for cm in COMMUNITIES[:4]:
        check(bool(w.status(w.first[(cm, "b2")], want="resolved", timeout=60)), f"run {n}: {cm}/b2's first ticket resolved")
    time.sleep(1)
    for cm in COMMUNITIES[:4]:
        seconds[cm] = w.report(cm, "b2", "a second time")
    for cm, rid in seconds.items():
        st = w.status(rid, timeout=60)
        if st.get("ticket_id"):
            w.action(st["ticket_id"], st.get("assignee_id"), "accept")
            w.action(st["ticket_id"], st.get("assignee_id"), "resolve", note="done again")
    for cm, rid in seconds.items():
        check(bool(w.status(rid, want="resolved", timeout=60)), f"run {n}: {cm}/b2's second ticket resolved")
    time.sleep(1)
    thirds = {cm: w.report(cm, "b2", "a third time") for cm in COMMUNITIES[:4]}
    check(not w.refused, f"run {n}: every request answered 202 ({len(w.refused)} not: {w.refused[:3]})")
    return w, seconds, thirds


def expectations(R, w, seconds, thirds):
    """What the workload must have made in R."""
    db, n = R.db, R.name.upper()

    def one(q):
        return sql(db, q)
    ok = True
    tids = {rid: ticket_id(cm, rid) for rid, (cm, _) in w.reports.items()}
    have = set(one("SELECT ticket_id FROM shequ.tickets").splitlines())
    missing = [t for t in tids.values() if t not in have]
    ok &= check(not missing, f"{n}: every report answered 202 became a ticket or a merge ({len(tids) - len(missing)}/{len(tids)})")
    merged = int(one("SELECT count(*) FROM shequ.tickets WHERE status = 'merged'"))
    ok &= check(merged == 32, f"{n}: each place's second report merged into its first ({merged}/32)")
    rc = one("SELECT count(*) FROM (SELECT t.ticket_id FROM shequ.tickets t JOIN shequ.ticket_events e USING (ticket_id) "
             "WHERE t.status <> 'merged' AND t.building = 'b0' AND t.source = 'report' AND t.reporter_count = 2 "
             "AND e.type = 'occurrence' GROUP BY 1 HAVING count(*) = 2) x")
    ok &= check(rc == "8", f"{n}: the camera alarm joined each b0 report ticket, the repeat alarm an occurrence ({rc}/8)")
    occ = one("SELECT count(*) FROM shequ.ticket_events WHERE type = 'occurrence'")
    ok &= check(occ == "16", f"{n}: 16 occurrences ({occ})")
    alarm_tickets = one("SELECT count(*) FROM shequ.tickets WHERE source = 'alarm'")
    ok &= check(alarm_tickets == "0", f"{n}: no alarm opened a ticket of its own ({alarm_tickets})")
    rated = one("SELECT count(*) FROM shequ.tickets WHERE building = 'b1' AND rating = 'satisfied'")
    ok &= check(rated == "8", f"{n}: the b1 tickets accepted, resolved and rated ({rated}/8)")
    reps = one("SELECT string_agg(ticket_id, ' ' ORDER BY ticket_id) FROM shequ.tickets WHERE repeat")
    want = " ".join(sorted(ticket_id(cm, rid) for cm, rid in thirds.items() if rid))
    ok &= check(reps == want, f"{n}: the third ticket at each b2 place of communities 0-3 is flagged repeat, no other ({reps})")
    seconds_open = one("SELECT count(*) FROM shequ.tickets WHERE building = 'b2' AND status <> 'merged' AND NOT repeat")
    ok &= check(seconds_open == "12", f"{n}: b2 of communities 0-3 has three tickets, 4-7 one ({seconds_open} + 4 repeat)")
    breached = one("SELECT count(DISTINCT e.ticket_id) FROM shequ.ticket_events e JOIN shequ.tickets t USING (ticket_id) "
                   "WHERE t.building = 'b3' AND e.type = 'sla_breached'")
    ok &= check(breached == "8", f"{n}: every planned ticket breached its agreed deadline ({breached}/8)")
    level = one("SELECT string_agg(DISTINCT escalation_level::text, ',') FROM shequ.tickets "
                "WHERE building = 'b3' AND status <> 'merged'")
    ok &= check(level == "3", f"{n}: and climbed the ladder to level 3 ({level})")
    dl = one("SELECT count(*) FROM shequ.deadletters")
    ok &= check(dl == "0", f"{n}: nothing dead-lettered ({dl})")
    return ok


def main():
    for var in ("SHEQU_CLIENT_ID", "MQTT_DEVICE_USER", "MQTT_BRIDGE_USER", "MQTT_NOTIFIER_USER", "KAFKA_BROKERS"):
        if not ENV.get(var):
            print(f"FAIL {var} is not set: run with `eval \"$(tools/dev env)\"`")
            return 1
    t0 = time.time()
    day0 = shanghai_day()
    A, B = Run("a"), Run("b")
    try:
        for r in (A, B):
            subprocess.run([f"{BUILD}/tests/topics_tool", "create", r.prefix], check=True)
            make_db(r.db)
        start_a(A)
        wa, seconds_a, thirds_a = workload(A, kill_and_add, 8)
        # B's bridge is on the same broker and device topics as A's: A's bridges stop, once A has every
        # alarm, before B's start, so that each run's alarms reach its own topics only
        alarms = wait_for(lambda: sql(A.db, "SELECT count(*) FROM shequ.alarms") == "16", 30)
        check(bool(alarms), f"run A: the 16 alarms accepted ({sql(A.db, 'SELECT count(*) FROM shequ.alarms')})")
        A.stop("alarm-bridge")
        note(f"run A's workload done after {time.time() - t0:.0f} s; run B (one instance each) while A settles")
        start_b(B)
        wb, seconds_b, thirds_b = workload(B, None, 2)

        def planned_done(w):
            return lambda db: sql(db, "SELECT count(*) FROM shequ.tickets WHERE building = 'b3' AND status <> "
                                      "'merged' AND escalation_level = 3") == "8" and \
                int(sql(db, "SELECT count(*) FROM shequ.tickets")) >= len(w.reports)
        note("run A settling (planned tickets up the ladder, ticket events stable)")
        check(settle(A.db, planned_done(wa), 180), "run A settled")
        check(not A.dead(), f"run A: no instance died unasked ({A.dead()})")
        A.stop_all()
        expectations(A, wa, seconds_a, thirds_a)
        note(f"run A: {sql(A.db, 'SELECT count(*) FROM shequ.tickets')} tickets, "
             f"{sql(A.db, 'SELECT count(*) FROM shequ.ticket_events')} events after {time.time() - t0:.0f} s")
        note("run B settling")
        check(settle(B.db, planned_done(wb), 180), "run B settled")
        check(not B.dead(), f"run B: no instance died unasked ({B.dead()})")
        B.stop_all()
        expectations(B, wb, seconds_b, thirds_b)
        check(sorted(wa.reports) == sorted(wb.reports), "A and B were sent the same reports (the same report ids)")
        note(f"comparing {A.db} (3 + 1 instances, SIGKILLs) with {B.db} (one instance each)")
        kpis = shanghai_day() == day0
        note(f"tickets compared on {', '.join(compared_columns(A.db, 'tickets'))}")
        differing = compare(A.db, B.db, kpis)
        if {"ticket_events", "ticket_event_ids", "tickets"} & set(differing):
            first_differing_ticket(A.db, B.db)
        for name in ("tickets", "ticket_events", "ticket_event_ids") + (("kpi_daily",) if kpis else ()):
            check(name not in differing, f"A and B hold the same {name}")
        check(not differing, f"A and B hold the same tables and KPI views ({', '.join(differing) or 'all same'})")
    finally:
        for r in (A, B):
            r.stop_all()
        forget_mqtt_sessions("a", ["1", "2", "3"])
        forget_mqtt_sessions("b", ["1"])
        for r in (A, B):
            subprocess.run([f"{BUILD}/tests/topics_tool", "delete", r.prefix], capture_output=True)
            drop_db(r.db)
    print(f"scale-out: {RESULTS['passed']} passed, {RESULTS['failed']} failed in {time.time() - t0:.0f} s "
          f"(logs in {LOGDIR})")
    return 0 if RESULTS["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
