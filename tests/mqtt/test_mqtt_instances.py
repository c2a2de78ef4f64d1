#!/usr/bin/env python3
"""Two instances each of the alarm bridge and the notifier on one broker and one prefixed topic set,
told apart only by SHEQU_INSTANCE (the same mqtt.client_id base, share group and consumer group):

- none of the four takes another's MQTT connection (distinct client ids: <base>-<instance>...), so all
  stay connected and none logs a lost connection;
- alarms of several communities published while both bridges run all reach alarms.device.v1, each keyed
  by the community of its MQTT topic (devices/{community_id}/{device_id}/alarm);
- notifications reach the staff member with both notifiers in the group.

Reuses the helpers of test_mqtt_edges.py (its topic prefix and log directory too).
"""
import json
import os
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_mqtt_edges as edges  # noqa: E402

ENV, U = edges.ENV, edges.U
check = edges.check


def bridge(instance):
    return edges.service("alarm-bridge", {
        "SHEQU_MQTT_USER": ENV["MQTT_BRIDGE_USER"], "SHEQU_MQTT_PASSWORD": ENV["MQTT_BRIDGE_PASSWORD"],
        "SHEQU_MQTT_CLIENT_ID": f"test-bridge-{U}", "SHEQU_MQTT_SHARE_GROUP": f"test-{U}", "SHEQU_INSTANCE": instance,
        "SHEQU_MQTT_PROCESSES": "2", "SHEQU_MQTT_CONNECTIONS": "2", "SHEQU_LOG_LEVEL": "info",
        "SHEQU_MQTT_PERSIST_DIR": os.path.join(edges.LOGDIR, f"paho-{instance}")})


def notifier(instance):
    return edges.service("notifier", {
        "SHEQU_MQTT_USER": ENV["MQTT_NOTIFIER_USER"], "SHEQU_MQTT_PASSWORD": ENV["MQTT_NOTIFIER_PASSWORD"],
        "SHEQU_MQTT_CLIENT_ID": f"test-notifier-{U}", "SHEQU_KAFKA_GROUP": f"test-notifier-{U}",
        "SHEQU_INSTANCE": instance, "SHEQU_LOG_LEVEL": "info",
        "SHEQU_PHONE_KEY": "6a3f0c2e9b8d7a6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d"})


def alarms_by_key():
    out = subprocess.run(["kcat", "-C", "-b", edges.BROKERS, "-t", edges.PREFIX + "alarms.device.v1", "-o", "beginning",
                          "-e", "-q", "-J"], capture_output=True, timeout=60)
    got = {}
    for line in out.stdout.decode(errors="replace").splitlines():
        try:
            m = json.loads(line)
        except ValueError:
            continue
        got[m.get("payload") or ""] = m.get("key")
    return got


def forget_sessions():
    for inst in ("a", "b"):
        for p in range(2):
            for c in range(2):
                subprocess.run(["mosquitto_sub", "-h", edges.HOST, "-p", edges.PORT, "-u", ENV["MQTT_BRIDGE_USER"],
                                "-P", ENV["MQTT_BRIDGE_PASSWORD"], "-i", f"test-bridge-{U}-{inst}-p{p}-{c}",
                                "-t", "devices/+/+/alarm", "-E"], capture_output=True, timeout=10)


def main():
    for var in ("MQTT_BRIDGE_USER", "MQTT_DEVICE_USER", "MQTT_NOTIFIER_USER", "KAFKA_BROKERS"):
        if not ENV.get(var):
            print(f"FAIL {var} is not set: run with `eval \"$(tools/dev env)\"`")
            return 1
    subprocess.run([f"{edges.BUILD}/tests/topics_tool", "create", edges.PREFIX], check=True)
    procs = {"bridge-a": bridge("a"), "bridge-b": bridge("b"), "notifier-a": notifier("a"), "notifier-b": notifier("b")}
    try:
        time.sleep(5)
        for name, p in procs.items():
            check(p.poll() is None, f"{name} is running beside its twin")
        dev = ENV["MQTT_DEVICE_USER"], ENV["MQTT_DEVICE_PASSWORD"]
        communities = [f"cm-{U}-{i}" for i in range(4)]
        sent = {}
        for i in range(24):
            cm = communities[i % 4]
            alarm_id = f"a-{U}-{i:03d}"  # fixed width: no id is a part of another
            sent[alarm_id] = cm
            edges.pub(*dev, f"devices/{cm}/cam-{i % 3}/alarm", json.dumps({"alarm_id": alarm_id, "type": "smoke",
                                                                           "state": "raised"}))

        def keyed():
            got = alarms_by_key()
            found = {a: k for a in sent for payload, k in got.items() if a in payload}
            return found if len(found) == len(sent) else None
        found = edges.wait_for(keyed, 40) or {}
        check(len(found) == len(sent), f"every alarm reaches alarms.device.v1 with two bridges ({len(found)}/{len(sent)})")
        check(all(found.get(a) == cm for a, cm in sent.items()), "each alarm is keyed by its topic's community_id")
        mine = edges.Subscriber("staff-dev-1", "staff-dev-1-pw", "staff/staff-dev-1/tasks")
        time.sleep(1)
        tickets = [f"t-{U}-{i}" for i in range(6)]
        for t in tickets:
            edges.produce("notify.v1", "staff-dev-1", edges.notification("staff-dev-1", t, "assigned"))
        check(edges.wait_for(lambda: all(any(t in line for line in mine.lines) for t in tickets), 30) is not None,
              "notifications arrive with two notifiers in the group")
        mine.stop()
        for name, p in procs.items():
            check(p.poll() is None, f"{name} is still running")
    finally:
        for p in procs.values():
            p.terminate()
        for p in procs.values():
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        forget_sessions()
        subprocess.run([f"{edges.BUILD}/tests/topics_tool", "delete", edges.PREFIX], capture_output=True)
    logs = ""
    for name in ("alarm-bridge", "notifier"):
        with open(os.path.join(edges.LOGDIR, f"{name}.log"), errors="replace") as f:
            logs += f.read()
    ids = sorted({w.split("=", 1)[1] for w in logs.split() if w.startswith("client_id=") or w.startswith("client=")})
    check(any(i.startswith(f"test-bridge-{U}-a-p") for i in ids) and any(i.startswith(f"test-bridge-{U}-b-p") for i in ids)
          and f"test-notifier-{U}-a" in ids and f"test-notifier-{U}-b" in ids,
          f"client ids carry the instance ({', '.join(ids)})")
    check("mqtt.connection_lost" not in logs, f"no instance lost its connection to its twin (logs in {edges.LOGDIR})")
    print(f"mqtt instances: {edges.RESULTS['passed']} passed, {edges.RESULTS['failed']} failed")
    return 0 if edges.RESULTS["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
