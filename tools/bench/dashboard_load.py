#!/usr/bin/env python3
"""Times the dashboard page load and the KPI views (run by tools/bench/dashboard).

usage: dashboard_load.py DASHBOARD_URL READER_DSN TICKETS

A page load is what the browser does on sign-in or a scope change: the static files, /api/me, then the
six data calls in parallel. Each scope is loaded ROUNDS times (the first one also counts); the figures are
the median and the slowest. The views are timed against the same KPIs computed straight from ticket_kpi
(the definition of DESIGN.md §5 without the rollup) on the same data.
"""
import concurrent.futures
import http.cookiejar
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import urllib.request

URL, READER, TICKETS = sys.argv[1], sys.argv[2], int(sys.argv[3])
ROUNDS = int(os.environ.get("ROUNDS", "10"))
jar = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))


def get(path):
    with opener.open(URL + path, timeout=60) as r:
        body = r.read()
        assert r.status == 200, (path, r.status)
        return body


def login():
    req = urllib.request.Request(URL + "/api/login", data=json.dumps({"username": "bench", "password": "bench-password"}).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    opener.open(req, timeout=30).read()


def page_load(scope, pool):
    t0 = time.perf_counter()
    for f in ("/", "/app.js", "/style.css", "/vendor/echarts.min.js"):
        get(f)
    get("/api/me")
    q = f"scope={scope}"
    calls = [f"/api/kpi?{q}", f"/api/trend?{q}", f"/api/ranking?by=community&{q}", f"/api/ranking?by=company&{q}",
             f"/api/overdue?limit=200&{q}", f"/api/hotspots?{q}"]
    list(pool.map(get, calls))
    return time.perf_counter() - t0


def sql_ms(sql, n=5):
    """Median wall time of a statement over n runs, from psql's \\timing."""
    script = "\\timing on\n" + "\n".join([sql + ";"] * n)
    out = subprocess.run(["psql", READER, "-X", "-q", "-o", "/dev/null"], input=script, capture_output=True, text=True)
    times = [float(line.split()[1]) for line in out.stdout.splitlines() + out.stderr.splitlines() if line.startswith("Time:")]
    return statistics.median(times) if times else float("nan")


DEF = ("SELECT {keys}, count(*), count(*) FILTER (WHERE is_responded), count(*) FILTER (WHERE is_responded_on_time),"
       " (count(*) FILTER (WHERE is_responded_on_time))::numeric / NULLIF(count(*) FILTER (WHERE is_responded OR is_respond_overdue), 0),"
       " count(*) FILTER (WHERE is_resolved), count(*) FILTER (WHERE is_resolved_on_time),"
       " (count(*) FILTER (WHERE is_resolved_on_time))::numeric / NULLIF(count(*) FILTER (WHERE is_resolved OR is_resolve_overdue), 0),"
       " count(*) FILTER (WHERE is_rated), count(*) FILTER (WHERE is_satisfied),"
       " (count(*) FILTER (WHERE is_satisfied))::numeric / NULLIF(count(*) FILTER (WHERE is_rated), 0),"
       " (count(*) FILTER (WHERE is_responded))::numeric / NULLIF(count(*), 0), count(*) FILTER (WHERE is_overdue_open)"
       " FROM shequ.ticket_kpi WHERE {where} GROUP BY {keys}")


def main():
    login()
    results = {"tickets": TICKETS, "machine": f"{os.cpu_count()} cores, {platform.release()}", "page_load_ms": {}, "sql_ms": {}}
    print(f"dashboard page load with {TICKETS:,} tickets ({results['machine']}; {ROUNDS} loads per scope)")
    print(f"{'scope':<22}{'median ms':>10}{'max ms':>10}")
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        for scope in ("district", "street:st1", "community:c1", "company:co1"):
            loads = [page_load(scope, pool) * 1000 for _ in range(ROUNDS)]
            results["page_load_ms"][scope] = {"median": round(statistics.median(loads), 1), "max": round(max(loads), 1)}
            print(f"{scope:<22}{statistics.median(loads):>10.1f}{max(loads):>10.1f}")
    today = "(now() AT TIME ZONE 'Asia/Shanghai')::date - 1"
    cases = [
        ("kpi_daily, one community, one day",
         f"SELECT * FROM shequ.kpi_daily WHERE community_id = 'c1' AND day = {today}",
         DEF.format(keys="community_id, created_day", where=f"community_id = 'c1' AND created_day = {today}")),
        ("kpi_daily, every community, one day",
         f"SELECT * FROM shequ.kpi_daily WHERE day = {today}",
         DEF.format(keys="community_id, created_day", where=f"created_day = {today}")),
        ("kpi_daily, one community, 30 days",
         f"SELECT * FROM shequ.kpi_daily WHERE community_id = 'c1' AND day > {today} - 30",
         DEF.format(keys="community_id, created_day", where=f"community_id = 'c1' AND created_day > {today} - 30")),
        ("kpi_daily, one community, a quarter",
         f"SELECT * FROM shequ.kpi_daily WHERE community_id = 'c1' AND day > {today} - 90",
         DEF.format(keys="community_id, created_day", where=f"community_id = 'c1' AND created_day > {today} - 90")),
    ]
    print(f"\n{'query':<40}{'view ms':>10}{'definition ms':>15}{'ratio':>8}")
    for name, view, baseline in cases:
        v, b = sql_ms(view), sql_ms(baseline, 3)
        results["sql_ms"][name] = {"view": v, "definition": b}
        print(f"{name:<40}{v:>10.1f}{b:>15.1f}{b / v:>8.1f}x")
    for name, sql in (("overdue_open, whole district, oldest 200",
                       "SELECT * FROM shequ.overdue_open ORDER BY late_by DESC LIMIT 200"),
                      ("repeat_hotspots, whole district", "SELECT * FROM shequ.repeat_hotspots")):
        v = sql_ms(sql)
        results["sql_ms"][name] = {"view": v}
        print(f"{name:<40}{v:>10.1f}")
    os.makedirs("build/bench", exist_ok=True)
    with open("build/bench/results.jsonl", "a") as f:
        f.write(json.dumps({"bench": "dashboard", "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **results}) + "\n")


if __name__ == "__main__":
    main()
