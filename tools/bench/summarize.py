#!/usr/bin/env python3
"""Prints the table of one benchmark run and writes it to build/bench/results-<time>.md.

usage: summarize.py SINCE_EPOCH_SECONDS

Reads the lines build/bench/results.jsonl gained since SINCE (every benchmark appends one JSON object per
figure), adds the machine and the versions of what was measured, and prints a markdown table.
"""
import calendar
import json
import os
import platform
import subprocess
import sys
import time


def version(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


def main():
    since = int(sys.argv[1])
    rows = []
    with open("build/bench/results.jsonl") as f:
        for line in f:
            try:
                r = json.loads(line)
            except ValueError:
                continue
            at = r.get("at")
            if isinstance(at, str):  # dashboard: ISO time
                at = calendar.timegm(time.strptime(at, "%Y-%m-%dT%H:%M:%SZ"))
            if at and at >= since:
                rows.append(r)
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    head = [
        f"# Shequ benchmarks, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(since))}",
        "",
        f"- machine: {os.cpu_count()} cores, {mem:.0f} GiB, Linux {platform.release()}",
        f"- librdkafka {version(['pkg-config', '--modversion', 'rdkafka'])}, Kafka 3.9.1 (KRaft, one node), "
        f"{version(['/usr/lib/postgresql/15/bin/postgres', '--version'])}, {version(['redis-server', '--version'])[:24]}, "
        f"Mosquitto {version(['mosquitto', '-h'])[-6:]}, Paho MQTT C {version(['dpkg-query', '-W', '-f=${Version}', 'libpaho-mqtt-dev'])}",
        "",
        "| stage | per second | baseline per second | ratio | p50 ms | p99 ms | notes |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    body = []
    for r in rows:
        if "stage" in r:
            body.append(f"| {r['stage']} | {r.get('events_per_s', 0):,.0f} | {r.get('baseline_per_s', 0):,.0f} | "
                        f"{r.get('ratio', 0):.2f} | {r.get('p50_ms', 0):.1f} | {r.get('p99_ms', 0):.1f} | {r.get('notes', '')} |")
        elif r.get("bench") == "dashboard":
            loads = ", ".join(f"{k} {v['median']:.0f} ms" for k, v in r.get("page_load_ms", {}).items())
            sql = ", ".join(f"{k}: {v['view']:.1f} ms" + (f" (definition {v['definition']:.1f})" if "definition" in v else "")
                            for k, v in r.get("sql_ms", {}).items())
            body.append(f"| dashboard | | | | | | {r['tickets']:,} tickets; page load median {loads}; {sql} |")
    text = "\n".join(head + body) + "\n"
    print(text)
    path = time.strftime("build/bench/results-%Y%m%d-%H%M.md", time.gmtime(since))
    with open(path, "w") as f:
        f.write(text)
    print(f"(also in {path} and, one JSON object per figure, build/bench/results.jsonl)")


if __name__ == "__main__":
    main()
