#!/usr/bin/env python3
"""The MQTT edges against the real Mosquitto and Kafka, with this test's own
alarm-bridge and notifier instances on a prefixed topic set:

- an alarm published by a device arrives on alarms.device.v1;
- an invalid payload is dead-lettered with a reason (and acknowledged);
- a device may not publish as another device; an anonymous client is refused;
- kill -9 of the bridge 10 times while 20,000 alarms are published: every
  alarm id is on Kafka (duplicates allowed, none lost);
- a staff member receives their notification and cannot read another's topic;
- the notifier survives a broker restart without losing a notification.

Standard library only, plus mosquitto_pub/mosquitto_sub and kcat.
"""
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid

ENV = os.environ
BUILD = ENV.get("SHEQU_BUILD_DIR", "build/test")
SRC = ENV.get("SHEQU_SOURCE_DIR", ".")
HOST, PORT = ENV.get("MQTT_HOST", "127.0.0.1"), ENV.get("MQTT_PORT", "11883")
BROKERS = ENV.get("KAFKA_BROKERS", "127.0.0.1:19092")
U = uuid.uuid4().hex[:8]
PREFIX = f"m.{U}."
RESULTS = {"passed": 0, "failed": 0}
LOGDIR = tempfile.mkdtemp(prefix="shequ-mqtt-")


def check(cond, what):
    RESULTS["passed" if cond else "failed"] += 1
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    return cond


def service(name, extra):
    env = dict(ENV)
    env.update({"SHEQU_TOPIC_PREFIX": PREFIX, "SHEQU_ADMIN_PORT": "0", "SHEQU_KAFKA_BROKERS": BROKERS,
                "SHEQU_RULES_FILE": f"{SRC}/deploy/rules/shequ.rules", "SHEQU_LOG_LEVEL": "warn",
                "SHEQU_MQTT_HOST": HOST, "SHEQU_MQTT_PORT": PORT})
    env.update(extra)
    log = open(os.path.join(LOGDIR, f"{name}.log"), "ab")
    return subprocess.Popen([f"{BUILD}/services/{name}/{name}"], env=env, stdout=log, stderr=log, cwd=SRC)


def bridge():
    return service("alarm-bridge", {
        "SHEQU_MQTT_USER": ENV["MQTT_BRIDGE_USER"], "SHEQU_MQTT_PASSWORD": ENV["MQTT_BRIDGE_PASSWORD"],
        "SHEQU_MQTT_CLIENT_ID": f"test-bridge-{U}", "SHEQU_MQTT_SHARE_GROUP": f"test-{U}",
        "SHEQU_MQTT_PERSIST_DIR": os.path.join(LOGDIR, "paho")})


def notifier():
    return service("notifier", {
        "SHEQU_MQTT_USER": ENV["MQTT_NOTIFIER_USER"], "SHEQU_MQTT_PASSWORD": ENV["MQTT_NOTIFIER_PASSWORD"],
        "SHEQU_MQTT_CLIENT_ID": f"test-notifier-{U}", "SHEQU_KAFKA_GROUP": f"test-notifier-{U}",
        "SHEQU_PHONE_KEY": "6a3f0c2e9b8d7a6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d"})


def pub(user, password, topic, payload, qos=1, extra=()):
    args = ["mosquitto_pub", "-h", HOST, "-p", PORT, "-q", str(qos), "-t", topic, "-m", payload, *extra]
    if user:
        args += ["-u", user, "-P", password]
    return subprocess.run(args, capture_output=True, timeout=20).returncode


def kafka_dump(topic, fmt="%s\n"):
    out = subprocess.run(["kcat", "-C", "-b", BROKERS, "-t", PREFIX + topic, "-o", "beginning", "-e", "-q", "-f", fmt],
                         capture_output=True, timeout=120)
    return out.stdout


def wait_for(fn, timeout=30, every=0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(every)
    return None


def varint(n):
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


def notification(recipient, ticket, kind, recipient_kind=1):
    header = field(1, str(uuid.uuid4())) + field(5, "c-test")
    return (field(1, header) + field(2, recipient_kind) + field(3, recipient) + field(4, ticket) + field(5, kind)
            + field(6, "urgent") + field(7, "elevator") + field(8, "电梯故障 2栋1单元"))


def owner_sql(sql):
    subprocess.run(["psql", ENV["PG_OWNER_DSN"], "-Xq", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True,
                   capture_output=True)


def produce(topic, key, value):
    with tempfile.NamedTemporaryFile(dir=LOGDIR) as f:  # a file is one message, whatever bytes it holds
        f.write(value)
        f.flush()
        subprocess.run(["kcat", "-P", "-X", "partitioner=murmur2_random", "-b", BROKERS, "-t", PREFIX + topic, "-k", key, f.name], check=True, timeout=30)


class Subscriber:
    def __init__(self, user, password, topic):
        self.lines = []
        self.proc = subprocess.Popen(["mosquitto_sub", "-h", HOST, "-p", PORT, "-q", "1", "-t", topic, "-u", user,
                                      "-P", password, "-i", f"test-sub-{uuid.uuid4().hex[:8]}"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.strip())

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def forget_bridge_sessions():
    """The test bridges' persistent sessions would otherwise stay on the broker and queue every later
    alarm for nobody (and make each autosave slower): a clean-session connect with each id drops them."""
    for p in range(8):
        for c in range(4):
            subprocess.run(["mosquitto_sub", "-h", HOST, "-p", PORT, "-u", ENV["MQTT_BRIDGE_USER"],
                            "-P", ENV["MQTT_BRIDGE_PASSWORD"], "-i", f"test-bridge-{U}-p{p}-{c}",
                            "-t", "devices/+/+/alarm", "-E"], capture_output=True, timeout=10)


def main():
    for var in ("MQTT_BRIDGE_USER", "MQTT_DEVICE_USER", "MQTT_NOTIFIER_USER", "MQTT_OBSERVER_USER", "KAFKA_BROKERS"):
        if not ENV.get(var):
            print(f"FAIL {var} is not set: run through `tools/dev test`")
            return 1
    subprocess.run([f"{BUILD}/tests/topics_tool", "create", PREFIX], check=True)
    b = bridge()
    n = notifier()
    try:
        time.sleep(2)
        dev = ENV["MQTT_DEVICE_USER"], ENV["MQTT_DEVICE_PASSWORD"]
        alarm_id = f"a-{U}-1"
        pub(*dev, f"devices/c-test/cam-{U}/alarm",
            f'{{"alarm_id":"{alarm_id}","type":"high_throw","state":"raised","level":2,"building":"5","unit":"1",'
            f'"occurred_at":"2026-11-24T10:00:00+08:00","snapshot_url":"https://img.example/s.jpg"}}')
        check(wait_for(lambda: alarm_id.encode() in kafka_dump("alarms.device.v1")), "device alarm arrives on alarms.device.v1")

        # a tolerant reader: a severity name, numbers for building and unit, epoch milliseconds; a unit it
        # cannot use is dropped and noted on the alarm, which is not refused over it
        trapped = f"a-{U}-trapped"
        pub(*dev, f"devices/c-test/lift-{U}/alarm",
            f'{{"alarm_id":"{trapped}","type":"elevator_entrapment","state":"raised","level":"critical",'
            f'"building":7,"unit":{{"no":1}},"occurred_at":1764806400000,"vendor_field":[1,2]}}')
        got = wait_for(lambda: (lambda d: d if trapped.encode() in d else None)(kafka_dump("alarms.device.v1")))
        check(got is not None, "an entrapment alarm with a severity name and odd field types is bridged")
        check(got is not None and b"unit: not a string or a whole number" in got, "the dropped field is noted on the alarm")
        check(trapped.encode() not in kafka_dump("deadletter.v1"), "the entrapment alarm is not dead-lettered")

        pub(*dev, f"devices/c-test/cam-{U}/alarm", "this is not json")
        pub(*dev, f"devices/c-test/cam-{U}/alarm", '{"alarm_id":"x","type":"earthquake","state":"raised"}')
        dl = wait_for(lambda: (lambda d: d if b"not_json" in d and b"unknown_alarm_type" in d else None)(
            kafka_dump("deadletter.v1", "%h\n")))
        check(dl is not None, "invalid payloads are dead-lettered with a reason")
        check(b.poll() is None, "the bridge is still running after bad input")

        # ACL: cam-dev-1 may publish only its own alarms
        own, other = f"a-{U}-own", f"a-{U}-other"
        pub("cam-dev-1", "cam-dev-1-pw", "devices/c-test/cam-dev-2/alarm",
            f'{{"alarm_id":"{other}","type":"smoke","state":"raised"}}')
        pub("cam-dev-1", "cam-dev-1-pw", "devices/c-test/cam-dev-1/alarm",
            f'{{"alarm_id":"{own}","type":"smoke","state":"raised"}}')
        dump = wait_for(lambda: (lambda d: d if own.encode() in d else None)(kafka_dump("alarms.device.v1")))
        check(dump is not None, "a device publishes its own alarms")
        check(dump is not None and other.encode() not in dump, "a device cannot publish as another device")
        check(pub(None, None, "devices/c-test/x/alarm", "{}") != 0, "an anonymous client is refused")

        # a device's credentials are bound to its community as well as its id
        elsewhere, bound, stray = f"a-{U}-elsewhere", f"a-{U}-bound", f"a-{U}-stray"
        pub("cam-dev-1", "cam-dev-1-pw", "devices/c-other/cam-dev-1/alarm",
            f'{{"alarm_id":"{elsewhere}","type":"smoke","state":"raised"}}')
        community, device, secret = f"c-bound-{U}", f"dev-{U}", f"pw-{U}"
        subprocess.run([f"{SRC}/tools/dev", "device-add", community, device, secret], check=True,
                       capture_output=True, timeout=60)
        time.sleep(1)  # the broker reloads its password file and ACL
        pub(device, secret, f"devices/c-test/{device}/alarm", f'{{"alarm_id":"{stray}","type":"smoke","state":"raised"}}')
        pub(device, secret, f"devices/{community}/{device}/alarm",
            f'{{"alarm_id":"{bound}","type":"smoke","state":"raised"}}')
        dump = wait_for(lambda: (lambda d: d if bound.encode() in d else None)(kafka_dump("alarms.device.v1")))
        check(dump is not None, "a device added with tools/dev device-add publishes its own alarms")
        check(dump is not None and stray.encode() not in dump, "it cannot publish for another community")
        check(dump is not None and elsewhere.encode() not in dump, "a test device cannot publish for another community")

        # staff: own topic yes, another's no
        mine = Subscriber("staff-dev-1", "staff-dev-1-pw", "staff/staff-dev-1/tasks")
        theirs = Subscriber("staff-dev-1", "staff-dev-1-pw", "staff/staff-dev-2/tasks")
        time.sleep(1)
        produce("notify.v1", "staff-dev-1", notification("staff-dev-1", f"t-{U}-1", "assigned"))
        produce("notify.v1", "staff-dev-2", notification("staff-dev-2", f"t-{U}-2", "assigned"))
        check(wait_for(lambda: any(f"t-{U}-1" in l for l in mine.lines), 20), "a staff member receives their assignment")
        time.sleep(2)
        check(not any(f"t-{U}-2" in l for l in theirs.lines), "a staff member cannot read another's tasks")

        # a supervisor reads the alerts of the community their staff row oversees, and no other's
        cm = f"cm-sup-{U}"
        owner_sql(f"INSERT INTO shequ.streets VALUES ('st-{U}', 'x') ON CONFLICT DO NOTHING;"
                  f"INSERT INTO shequ.companies VALUES ('co-{U}', 'x') ON CONFLICT DO NOTHING;"
                  f"INSERT INTO shequ.communities (community_id, name, street_id, company_id) VALUES ('{cm}', 'x', 'st-{U}', 'co-{U}');"
                  f"INSERT INTO shequ.staff (staff_id, name, role, community_id) VALUES ('sup-dev-1', 'x', 'supervisor', '{cm}')"
                  f" ON CONFLICT (staff_id) DO UPDATE SET role = 'supervisor', community_id = EXCLUDED.community_id")
        subprocess.run([f"{SRC}/tools/dev", "mqtt-acl"], check=True, capture_output=True)
        time.sleep(0.5)
        alerts = Subscriber("sup-dev-1", "sup-dev-1-pw", f"supervisors/{cm}/alerts")
        others = Subscriber("sup-dev-1", "sup-dev-1-pw", "supervisors/c-other/alerts")
        time.sleep(1)
        produce("notify.v1", cm, notification(cm, f"t-{U}-sup", "escalated", 2))
        produce("notify.v1", "c-other", notification("c-other", f"t-{U}-other", "escalated", 2))
        check(wait_for(lambda: any(f"t-{U}-sup" in l for l in alerts.lines), 20), "a supervisor receives their community's alerts")
        time.sleep(2)
        check(not any(f"t-{U}-other" in l for l in others.lines), "a supervisor cannot read another community's alerts")
        for sub in (alerts, others):
            sub.stop()
        owner_sql(f"DELETE FROM shequ.staff WHERE staff_id = 'sup-dev-1'; DELETE FROM shequ.communities WHERE community_id = '{cm}';"
                  f"DELETE FROM shequ.companies WHERE company_id = 'co-{U}'; DELETE FROM shequ.streets WHERE street_id = 'st-{U}'")
        subprocess.run([f"{SRC}/tools/dev", "mqtt-acl"], check=True, capture_output=True)

        # the notifier survives a broker restart without losing a notification
        for i in range(5):
            produce("notify.v1", "staff-dev-1", notification("staff-dev-1", f"t-{U}-before-{i}", "sla_warning"))
        subprocess.run([f"{SRC}/tools/dev", "restart-server", "mosquitto"], check=True, capture_output=True)
        for i in range(5):
            produce("notify.v1", "staff-dev-1", notification("staff-dev-1", f"t-{U}-after-{i}", "sla_warning"))
        mine.stop()
        mine = Subscriber("staff-dev-1", "staff-dev-1-pw", "staff/staff-dev-1/tasks")
        obs = Subscriber(ENV["MQTT_OBSERVER_USER"], ENV["MQTT_OBSERVER_PASSWORD"], "staff/staff-dev-1/tasks")
        # everything published after the subscribers reconnected must arrive; the notifier keeps retrying until then
        got = wait_for(lambda: all(any(f"t-{U}-after-{i}" in l for l in obs.lines) for i in range(5)), 60)
        check(got is not None, "notifications produced during a broker restart all arrive")
        check(n.poll() is None, "the notifier is still running after the broker restart")
        for s in (mine, theirs, obs):
            s.stop()

        # kill -9 the bridge 10 times while 20,000 alarms are published
        N = 20000
        lines = "\n".join(f'{{"alarm_id":"bulk-{U}-{i}","type":"water_leak","state":"raised","building":"{i % 50}"}}'
                          for i in range(N)) + "\n"
        publisher = subprocess.Popen(["mosquitto_pub", "-h", HOST, "-p", PORT, "-q", "1", "-l", "-u", dev[0], "-P", dev[1],
                                      "-t", f"devices/c-test/cam-bulk-{U}/alarm", "-i", f"bulk-{U}"],
                                     stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
        feeder = threading.Thread(target=lambda: (publisher.stdin.write(lines.encode()), publisher.stdin.close()))
        feeder.start()
        kills = 0
        while kills < 10:
            time.sleep(0.7)
            b.send_signal(signal.SIGKILL)
            b.wait()
            kills += 1
            b = bridge()
        feeder.join()
        publisher.wait(timeout=120)

        def all_there():
            d = kafka_dump("alarms.device.v1")
            found = sum(1 for i in range(N) if f"bulk-{U}-{i}\x1a".encode() in d)  # alarm_id, then the device_id tag
            print(f"     alarms on Kafka: {found}/{N}", flush=True)
            return found == N
        check(wait_for(all_there, 180, 5) is not None, f"every one of {N} alarms is on Kafka after {kills} kill -9s")
    finally:
        for p in (b, n):
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        subprocess.run([f"{BUILD}/tests/topics_tool", "delete", PREFIX], capture_output=True)
        forget_bridge_sessions()
    print(f"logs in {LOGDIR}")
    print(f"mqtt: {RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 0 if RESULTS["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
