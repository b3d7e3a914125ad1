#!/usr/bin/env python3
"""The fault suite's driver (issue 23); run by benches/faults/run.sh, which explains it.

Python 3.11 standard library only. Everything it starts (Redis, a PostgreSQL cluster, the S3
test server, a TCP proxy in front of it, a network namespace, tmpfs mounts, the pvs services)
is its own and is stopped or removed on exit. The machine's shared Redis and PostgreSQL are
never touched.
"""

import argparse
import datetime as dt
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PG_BIN = "/usr/lib/postgresql/15/bin"
NETNS = "pvsfaults"
VETH_HOST, VETH_NS = "pvsf-h", "pvsf-n"
HOST_IP, NS_IP = "10.200.23.1", "10.200.23.2"
BUCKET = "pvs-faults"
TEMPLATES = [
    "browseReport_ASA_IM__0P_20100722_213840.xml",
    "browseReport_ASA_IM__0P_20100731_103315.xml",
    "browseReport_ASA_IM__0P_20100807_101327.xml",
    "browseReport_ASA_IM__0P_20100813_102453.xml",
]
BASE_TIME = dt.datetime(2010, 1, 1, tzinfo=dt.timezone.utc)
KINDS = ["ingestor", "preprocessor", "registrar", "seeder", "cache"]

START = time.monotonic()


def log(*parts):
    print(f"[faults {time.monotonic() - START:7.1f}s]", *parts, file=sys.stderr, flush=True)


HANDED_OUT = set()


def free_port():
    """A port free now and never handed out before by this run: two services given the same
    port (the kernel may give a port released a moment ago again) would keep one of them
    from listening."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in HANDED_OUT:
            HANDED_OUT.add(port)
            return port


def sh(*cmd, check=True, quiet=True, **kw):
    r = subprocess.run(list(cmd), capture_output=quiet, text=True, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {r.returncode}: {r.stderr if quiet else ''}")
    return r


# --- Redis (a minimal RESP client) -------------------------------------------------------


class Redis:
    def __init__(self, port):
        self.port = port
        self.sock = None
        self.buf = b""
        self.lock = threading.Lock()

    def _read_line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _read_exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2 :]
        return data

    def _reply(self):
        line = self._read_line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._read_exact(n).decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise RuntimeError(f"unexpected reply {line!r}")

    def call(self, *args):
        with self.lock:
            for attempt in range(2):
                try:
                    if self.sock is None:
                        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
                        self.buf = b""
                    out = [f"*{len(args)}\r\n".encode()]
                    for a in args:
                        b = str(a).encode()
                        out.append(f"${len(b)}\r\n".encode() + b + b"\r\n")
                    self.sock.sendall(b"".join(out))
                    return self._reply()
                except (OSError, ConnectionError):
                    if self.sock:
                        self.sock.close()
                    self.sock = None
                    if attempt:
                        raise

    def scan(self, pattern):
        cursor, keys = "0", []
        while True:
            cursor, batch = self.call("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
            keys += batch
            if cursor == "0":
                return sorted(set(keys))


class RedisServer:
    """A redis-server of the suite's own (port, folder, persistence)."""

    def __init__(self, work, port, persistence, bind):
        self.work, self.port, self.persistence, self.bind = work, port, persistence, bind
        self.proc = None
        self.client = Redis(port)

    def start(self):
        os.makedirs(self.work, exist_ok=True)
        args = ["redis-server", "--port", str(self.port), "--bind", *self.bind, "--dir", self.work,
                "--save", "", "--protected-mode", "no", "--logfile", os.path.join(self.work, "redis.log")]
        if self.persistence == "off":
            args += ["--appendonly", "no"]
        else:
            args += ["--appendonly", "yes", "--appendfsync", self.persistence]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, start_new_session=True)
        for _ in range(100):
            try:
                if self.client.call("PING") == "PONG":
                    return
            except (OSError, ConnectionError, RuntimeError):
                pass
            time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def crash(self):
        """kill -9: what a power cut or an OOM kill does (no final fsync)."""
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --- PostgreSQL ---------------------------------------------------------------------------


class Postgres:
    def __init__(self, port, listen):
        # A folder of its own outside the work folder, which may be private to root (0700).
        import tempfile
        self.root = tempfile.mkdtemp(prefix="pvs-faults-pg-")
        os.chmod(self.root, 0o755)
        self.data = os.path.join(self.root, "data")
        self.sockets = os.path.join(self.root, "sockets")
        self.port, self.listen = port, listen

    def runuser(self, *cmd, check=True):
        return sh("runuser", "-u", "postgres", "--", *cmd, check=check)

    def init(self):
        for d in (self.data, self.sockets):
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(d)
            shutil.chown(d, "postgres", "postgres")
        os.chmod(self.data, 0o700)
        self.runuser(f"{PG_BIN}/initdb", "-D", self.data, "-A", "trust", "-U", "postgres")
        with open(os.path.join(self.data, "pg_hba.conf"), "a") as f:
            f.write(f"host all all {HOST_IP}/30 trust\n")
        self.start()

    def start(self):
        opts = (f"-p {self.port} -k {self.sockets} -c listen_addresses='{','.join(self.listen)}' "
                "-c fsync=off -c max_connections=200")
        self.runuser(f"{PG_BIN}/pg_ctl", "-D", self.data, "-o", opts, "-l",
                     os.path.join(self.sockets, "pg.log"), "-w", "start")

    def crash(self):
        """An immediate stop: no checkpoint, connections cut (crash recovery on start)."""
        self.runuser(f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", "immediate", "stop", check=False)

    def stop(self):
        self.runuser(f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", "fast", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def psql(self, sql, db="postgres"):
        r = sh("psql", "-qAtX", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", db,
               "-c", sql)
        return r.stdout.strip()

    def url(self, db, host="127.0.0.1"):
        return f"postgres://postgres@{host}:{self.port}/{db}"


# --- a TCP proxy in front of the S3 server that can be made unreachable -------------------


class Proxy:
    """Forwards connections to the S3 server. `down()` resets every open connection and
    every new one (RST) until `up()`: object storage unreachable."""

    def __init__(self, target_port, addresses):
        self.target = ("127.0.0.1", target_port)
        self.port = free_port()
        self.is_down = False
        self.conns = set()
        self.lock = threading.Lock()
        self.listeners = []
        for addr in addresses:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((addr, self.port))
            s.listen(256)
            self.listeners.append(s)
            threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    @staticmethod
    def _reset(s):
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        except OSError:
            pass

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if self.is_down:
                self._reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                self._reset(client)
                continue
            with self.lock:
                self.conns.add(client)
                self.conns.add(upstream)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, a, b):
        try:
            while True:
                data = a.recv(65536)
                if not data:
                    break
                b.sendall(data)
        except OSError:
            pass
        finally:
            try:
                b.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            with self.lock:
                self.conns.discard(a)
            try:
                a.close()
            except OSError:
                pass

    def down(self):
        self.is_down = True
        with self.lock:
            conns, self.conns = list(self.conns), set()
        for c in conns:
            self._reset(c)

    def up(self):
        self.is_down = False


# --- the pvs services ----------------------------------------------------------------------


class Service:
    def __init__(self, kind, pvs, env, logdir, args=(), name=None, netns=False):
        self.kind, self.pvs, self.env, self.logdir = kind, pvs, env, logdir
        self.args = list(args)
        self.name = name
        self.netns = netns
        self.port = free_port()
        self.proc = None
        self.starts = 0

    def command(self):
        cmd = [self.pvs, self.kind, *self.args]
        if self.name:
            cmd += ["--consumer-name", self.name]
        if self.netns:
            cmd = ["ip", "netns", "exec", NETNS, *cmd]
        return cmd

    def start(self, name=None):
        if name:
            self.name = name
        self.starts += 1
        env = dict(self.env, LISTEN_ADDR=f"127.0.0.1:{self.port}")
        logf = open(os.path.join(self.logdir, f"{self.kind}-{self.name or 'x'}.log"), "ab")
        self.proc = subprocess.Popen(self.command(), env=env, stdin=subprocess.DEVNULL,
                                     stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        logf.close()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def url(self, path="/"):
        return f"http://127.0.0.1:{self.port}{path}"


def http_get(url, timeout=10):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (OSError, http.client.HTTPException):
        return None, b""


def wait_http(url, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status, _ = http_get(url, timeout=2)
        if status == 200:
            return True
        time.sleep(0.2)
    return False


# --- the reports ---------------------------------------------------------------------------


def web_mercator_tiles(bbox, zooms):
    import math
    w, s, e, n = bbox
    tiles = []
    for z in zooms:
        count = 2 ** z

        def tx(lon):
            return min(count - 1, max(0, int((lon + 180) / 360 * count)))

        def ty(lat):
            lat = max(-85.05, min(85.05, lat))
            r = math.radians(lat)
            return min(count - 1, max(0, int((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * count)))

        for x in range(tx(w), tx(e) + 1):
            for y in range(ty(n), ty(s) + 1):
                tiles.append((z, x, y))
    return tiles


class Reports:
    """N products from the fixture reports: ids, footprints moved on a grid, times one minute
    apart (so later products lie on top), and R replacement reports (same ids and places,
    a newer report dateTime, an inverted image)."""

    def __init__(self, work, count, replaced):
        self.dir = os.path.join(work, "reports")
        self.images = os.path.join(work, "images")
        os.makedirs(self.dir, exist_ok=True)
        os.makedirs(self.images, exist_ok=True)
        ref = os.path.join(REPO, "fixtures", "ngeo", "reference_test_data")
        self.templates = []
        for name in TEMPLATES:
            text = open(os.path.join(ref, name)).read()
            image = re.search(r"<rep:fileName>(.*?)</rep:fileName>", text).group(1)
            shutil.copy(os.path.join(ref, image), os.path.join(self.images, image))
            inverted = "inv_" + image
            if not os.path.exists(os.path.join(self.images, inverted)):
                sh("gdal_translate", "-q", "-of", "JPEG", "-scale", "0", "255", "255", "0",
                   os.path.join(ref, image), os.path.join(self.images, inverted))
            for aux in os.listdir(self.images):
                if aux.endswith(".aux.xml"):
                    os.remove(os.path.join(self.images, aux))
            coords = [float(v) for v in re.search(r"<rep:coordList>(.*?)</rep:coordList>", text).group(1).split()]
            self.templates.append((text, image, inverted, coords))
        self.products = []  # (id, xml, bbox)
        self.replacements = []
        cells = 40 * 20
        for i in range(count):
            t = i % len(self.templates)
            cell = i % cells
            dlon = (cell % 40) * 8.5 - 160.0
            dlat = 15.0 - (cell // 40) * 5.8
            pid = f"fp{i:05d}"
            self.products.append(self._make(pid, i, t, dlon, dlat, False))
        for i in range(max(0, count - replaced), count):
            t = i % len(self.templates)
            cell = i % cells
            self.replacements.append(self._make(f"fp{i:05d}", i, t, (cell % 40) * 8.5 - 160.0,
                                                15.0 - (cell // 40) * 5.8, True))

    def _make(self, pid, i, t, dlon, dlat, replacement):
        text, image, inverted, coords = self.templates[t]
        moved = []
        for k in range(0, len(coords), 2):
            moved += [round(coords[k] + dlat, 4), round(coords[k + 1] + dlon, 4)]
        lats, lons = moved[0::2], moved[1::2]
        start = BASE_TIME + dt.timedelta(minutes=i)
        end = start + dt.timedelta(seconds=30)
        fmt = "%Y-%m-%dT%H:%M:%SZ"
        xml = re.sub(r"<rep:browseIdentifier>.*?</rep:browseIdentifier>",
                     f"<rep:browseIdentifier>{pid}</rep:browseIdentifier>", text)
        xml = re.sub(r"<rep:fileName>.*?</rep:fileName>",
                     f"<rep:fileName>{inverted if replacement else image}</rep:fileName>", xml)
        xml = re.sub(r"<rep:coordList>.*?</rep:coordList>",
                     "<rep:coordList>" + " ".join(str(v) for v in moved) + "</rep:coordList>", xml)
        xml = re.sub(r"<rep:startTime>.*?</rep:startTime>", f"<rep:startTime>{start.strftime(fmt)}</rep:startTime>", xml)
        xml = re.sub(r"<rep:endTime>.*?</rep:endTime>", f"<rep:endTime>{end.strftime(fmt)}</rep:endTime>", xml)
        xml = re.sub(r"<rep:dateTime>.*?</rep:dateTime>",
                     f"<rep:dateTime>{'2013-01-01T00:00:00Z' if replacement else '2012-10-02T09:30:00Z'}</rep:dateTime>", xml)
        return pid, xml.encode(), (min(lons), min(lats), max(lons), max(lats))


class Ingest:
    """Sends reports to the ingestor, retrying each until it is answered 202 (a client whose
    POST died with the ingestor sends it again)."""

    def __init__(self, port_of):
        self.port_of = port_of
        self.accepted = {}  # pid -> [report names]
        self.posts = 0
        self.retries = 0
        self.refused = []
        self.lock = threading.Lock()

    def send(self, pid, body, stop):
        attempt = 0
        while not stop.is_set():
            attempt += 1
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port_of(), timeout=20)
                conn.request("POST", "/ingest", body=body, headers={"Content-Type": "application/xml"})
                r = conn.getresponse()
                r.read()
                name = r.getheader("X-Pvs-Report")
                conn.close()
                with self.lock:
                    self.posts += 1
                if r.status == 202:
                    with self.lock:
                        self.accepted.setdefault(pid, []).append(name)
                    return True
                if r.status < 500:
                    with self.lock:
                        self.refused.append((pid, r.status))
                    return False
            except (OSError, http.client.HTTPException):
                pass
            with self.lock:
                self.retries += 1
            time.sleep(min(2.0, 0.2 * attempt))
        return False

    def send_all(self, products, stop, threads=2):
        items = list(products)
        lock = threading.Lock()

        def worker():
            while not stop.is_set():
                with lock:
                    if not items:
                        return
                    pid, body, _ = items.pop(0)
                self.send(pid, body, stop)

        ts = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()


# --- one scenario: a fresh pipeline, a fault, the checks -----------------------------------

QUEUES = ["preprocess-md_queue", "preprocess_queue", "register_queue", "seed_queue"]
STAGES = ["preprocess", "register", "seed"]


def product_ids_in(text):
    return set(re.findall(r"fp\d{5}", text))


class Scenario:
    def __init__(self, suite, name, fault, persistence="always", expected_loss=False, notes=""):
        self.suite, self.name, self.fault = suite, name, fault
        self.persistence, self.expected_loss = persistence, expected_loss
        self.notes = [notes] if notes else []
        self.work = os.path.join(suite.work, name)
        self.logs = os.path.join(self.work, "logs")
        self.report_dir = os.path.join(self.work, "registration-reports")
        self.work_dir = os.path.join(self.work, "preprocess-work")
        self.tiles_dir = None
        self.services = {k: [] for k in KINDS}
        self.kills = {k: 0 for k in KINDS}
        self.exits = {k: 0 for k in KINDS}
        self.stop_faults = threading.Event()
        self.stop_all = threading.Event()
        self.fault_log = []
        self.exit_reasons = {}
        self.mounts = []

    # -- set-up --
    def env(self, netns=False):
        s = self.suite
        host = HOST_IP if netns else "127.0.0.1"
        e = dict(os.environ)
        for k in list(e):
            if k.startswith(("PVS_", "REDIS_", "DATABASE_", "STORAGE_", "TILES_", "S3_", "AWS_")):
                del e[k]
        e.update({
            "REDIS_URL": f"redis://{host}:{self.redis.port}/0",
            "DATABASE_URL": s.pg.url(self.db, host),
            "STORAGE_URL": f"s3://{BUCKET}/{self.name}",
            "S3_ENDPOINT": f"http://{host}:{s.proxy.port}",
            "AWS_ACCESS_KEY_ID": "pvs-faults", "AWS_SECRET_ACCESS_KEY": "pvs-faults",
            "AWS_REGION": "us-east-1",
            "INGEST_PREFIX": "incoming",
            "COLLECTIONS_FILE": s.collections_file,
            "REPORT_DIR": self.report_dir,
            "PREPROCESS_WORK_DIR": self.work_dir,
            "LOG_FORMAT": "json", "RUST_LOG": "info",
        })
        if self.tiles_dir:
            e["TILES_STORAGE_URL"] = "file://" + self.tiles_dir
        return e

    def setup(self):
        s = self.suite
        shutil.rmtree(self.work, ignore_errors=True)
        for d in (self.logs, self.report_dir, self.work_dir):
            os.makedirs(d, exist_ok=True)
        if self.fault in ("disk-tiles",):
            self.tiles_dir = os.path.join(self.work, "tiles")
            self.mount_tmpfs(self.tiles_dir, "64m")
        if self.fault in ("disk-work",):
            self.mount_tmpfs(self.work_dir, "64m")
        self.redis = RedisServer(os.path.join(self.work, "redis"), s.redis_port, self.persistence,
                                 s.bind)
        self.redis.start()
        self.r = self.redis.client
        self.db = f"faults_{self.name.replace('-', '_')}"
        s.pg.psql(f"DROP DATABASE IF EXISTS {self.db} WITH (FORCE)")
        s.pg.psql(f"CREATE DATABASE {self.db}")
        for f in os.listdir(s.reports.images):
            with open(os.path.join(s.reports.images, f), "rb") as fh:
                s3_put(s.s3_port, f"{BUCKET}/{self.name}/incoming/{f}", fh.read())
        env = self.env()
        self.services["ingestor"].append(Service("ingestor", s.pvs, env, self.logs))
        for n in ("pre-a", "pre-b"):
            self.services["preprocessor"].append(
                Service("preprocessor", s.pvs, env, self.logs, ["--concurrency", "1"], n))
        if self.fault == "netns":
            self.services["preprocessor"].append(
                Service("preprocessor", s.pvs, self.env(netns=True), self.logs,
                        ["--concurrency", "2"], "pre-iso", netns=True))
        self.services["registrar"].append(
            Service("registrar", s.pvs, env, self.logs, ["--concurrency", "4"], "reg-a"))
        self.services["seeder"].append(
            Service("seeder", s.pvs, env, self.logs, ["--concurrency", "2"], "seed-a"))
        self.services["cache"].append(Service("cache", s.pvs, env, self.logs))
        for svc in self.all_services():
            svc.start()
        for svc in self.all_services():
            if not svc.netns and not wait_http(svc.url("/health"), 60):
                raise RuntimeError(f"{svc.kind} {svc.name} did not start: see {self.logs}")

    def mount_tmpfs(self, path, size):
        os.makedirs(path, exist_ok=True)
        sh("mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", path)
        self.mounts.append(path)

    def all_services(self):
        return [svc for k in KINDS for svc in self.services[k]]

    # -- a supervisor: a service that exits is started again (restart: unless-stopped) --
    def supervise(self):
        while not self.stop_all.is_set():
            for svc in self.all_services():
                if svc.proc is not None and not svc.alive() and not getattr(svc, "held", False):
                    self.exits[svc.kind] += 1
                    key = f"{svc.kind} {svc.name or ''} exited by itself (status {svc.proc.returncode})"
                    self.exit_reasons[key] = self.exit_reasons.get(key, 0) + 1
                    time.sleep(0.5)
                    svc.start()
            time.sleep(0.5)

    # -- a tile client: reads tiles from the cache all along --
    def tile_client(self, tiles):
        cache = self.services["cache"][0]
        while not self.stop_all.is_set():
            z, x, y = random.choice(tiles)
            http_get(cache.url(f"/tiles/SAR/{z}/{x}/{y}.png"), timeout=10)
            time.sleep(0.2)

    # -- the state --
    def members(self, key):
        return set(self.r.call("SMEMBERS", key) or [])

    def processing(self):
        out = {}
        for key in self.r.scan("*:processing:*"):
            n = self.r.call("LLEN", key)
            if n:
                out[key] = n
        return out

    def quiet(self, ids):
        try:
            if any(self.r.call("LLEN", q) for q in QUEUES):
                return False
            if self.processing():
                return False
            if self.members("preprocessing_set") or self.members("registering_set") or self.members("seeding_set"):
                return False
            if self.expected_loss:  # what was lost never comes: settled is enough
                return True
            done = self.members("register-success_set") | self.members("register-failure_set") \
                | self.members("preprocess-failure_set")
            if not ids <= done:
                return False
            # Every accepted report answered (the replacements' ids are in the sets already).
            written = {f.split("_registration_")[0] for f in os.listdir(self.report_dir)}
            accepted = {n for names in self.ingest.accepted.values() for n in names}
            return accepted <= written
        except (OSError, ConnectionError, RuntimeError):
            return False

    def wait_quiet(self, ids, seconds):
        deadline = time.monotonic() + seconds
        stable = 0
        while time.monotonic() < deadline:
            stable = stable + 1 if self.quiet(ids) else 0
            if stable >= 3:
                return True
            time.sleep(1)
        return False

    def wait_registered(self, ids, seconds):
        if self.expected_loss:
            return self.wait_quiet(ids, seconds)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                done = self.members("register-success_set") | self.members("register-failure_set") \
                    | self.members("preprocess-failure_set")
                if ids <= done:
                    return True
            except (OSError, ConnectionError, RuntimeError):
                pass
            time.sleep(1)
        return False

    def queue_cli(self, *args):
        env = self.env()
        return subprocess.run([self.suite.pvs, "queue", *args], env=env, capture_output=True, text=True)

    # -- the run --
    def run(self):
        s = self.suite
        log(f"{self.name}: setting up")
        self.setup()
        products = s.reports.products
        ids = {p[0] for p in products}
        tiles = []
        for _, _, bbox in products:
            tiles += web_mercator_tiles(bbox, [2, 3, 4, 5])
        check_tiles = []
        for _, _, bbox in s.reports.replacements:
            check_tiles += web_mercator_tiles(bbox, [3, 4, 5, 6])
        others = random.Random(7).sample(products, min(8, len(products)))
        for _, _, bbox in others:
            check_tiles += web_mercator_tiles(bbox, [4, 5])
        check_tiles = sorted(set(check_tiles))
        threads = [threading.Thread(target=self.supervise, daemon=True),
                   threading.Thread(target=self.tile_client, args=(tiles,), daemon=True)]
        for t in threads:
            t.start()
        ingestor = self.services["ingestor"][0]
        self.ingest = Ingest(lambda: ingestor.port)
        fault = threading.Thread(target=self.run_fault, daemon=True)
        fault.start()
        started = time.monotonic()
        # In the kill row the reports come all along the kills (the ingestor dies mid-POST).
        pace = s.kills * len(KINDS) * 1.5 * s.kill_interval / len(products) if self.fault == "kill" else 0.0
        if pace:
            self.paced_ingest(products, pace)
        else:
            self.ingest.send_all(products, self.stop_all)
        log(f"{self.name}: {len(products)} reports sent in {time.monotonic() - started:.0f} s "
            f"({self.ingest.posts} POSTs answered, {self.ingest.retries} retried)")
        if not self.wait_registered(ids, s.wait):
            log(f"{self.name}: not every product registered within {s.wait} s")
        self.wait_quiet(ids, 60)
        # The tiles the replacements make stale, drawn and stored before they come.
        cache = self.services["cache"][0]
        for z, x, y in check_tiles:
            http_get(cache.url(f"/tiles/SAR/{z}/{x}/{y}.png"), timeout=30)
        self.ingest.send_all(s.reports.replacements, self.stop_all)
        log(f"{self.name}: {len(s.reports.replacements)} replacement reports sent")
        self.stop_faults.set()
        fault.join()
        log(f"{self.name}: fault over; waiting for the pipeline to settle")
        if not self.wait_quiet(ids, s.wait):
            log(f"{self.name}: not settled within {s.wait} s: {self.processing()}")
        # Failures, as an operator sees and retries them once the fault has gone.
        failed = {st: sorted(self.members(f"{st}-failure_set")) for st in STAGES}
        self.failed = {st: v for st, v in failed.items() if v}
        self.reasons = {st: self.r.call("HGETALL", f"{st}-failure_reasons") for st in self.failed}
        if self.failed:
            log(f"{self.name}: failures before retry: { {k: len(v) for k, v in self.failed.items()} }")
            for st in self.failed:
                r = self.queue_cli("retry", st, "--all")
                if r.returncode:
                    self.notes.append(f"pvs queue retry {st} --all: exit {r.returncode}: {r.stderr.strip()[:200]}")
            self.wait_quiet(ids, s.wait)
        self.stop_all.set()
        for t in threads:
            t.join(15)
        self.result = self.check(ids, check_tiles)
        for svc in self.all_services():
            svc.stop()
        self.redis.stop()
        for m in reversed(self.mounts):
            sh("umount", "-l", m, check=False)
        return self.result

    def paced_ingest(self, products, pace):
        for p in products:
            if self.stop_all.is_set():
                return
            self.ingest.send(p[0], p[1], self.stop_all)
            time.sleep(pace)

    # -- the faults --
    def run_fault(self):
        try:
            getattr(self, "fault_" + self.fault.replace("-", "_"))()
        except Exception as e:  # noqa: BLE001 - reported in the table
            self.notes.append(f"fault thread failed: {e!r}")
            log(f"{self.name}: fault thread failed: {e!r}")

    def fault_none(self):
        self.stop_faults.wait()

    def wait_progress(self, fraction, seconds=120):
        """Waits until `fraction` of the products are registered (mid-run)."""
        n = len(self.suite.reports.products)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.stop_faults.is_set():
            try:
                if self.r.call("SCARD", "register-success_set") >= fraction * n:
                    return
            except (OSError, ConnectionError, RuntimeError):
                pass
            time.sleep(0.2)

    def fault_kill(self):
        rng = random.Random(23)
        want = self.suite.kills
        while True:
            short = [k for k in KINDS if self.kills[k] < want]
            if not short and self.stop_faults.is_set():
                return
            kind = rng.choice(short or KINDS)
            if kind == "seeder":  # mid-job: while it holds a message
                deadline = time.monotonic() + 5
                while time.monotonic() < deadline and not any("seed_queue" in k for k in self.processing()):
                    time.sleep(0.05)
            svc = rng.choice(self.services[kind])
            svc.held = True
            svc.kill9()
            self.kills[kind] += 1
            time.sleep(rng.uniform(0, 1.0))
            name = svc.name
            if name and rng.random() < 0.5:
                name = f"{name.split('.')[0]}.{rng.randrange(1 << 20):x}"
            svc.start(name)
            svc.held = False
            time.sleep(rng.uniform(0.5, 2.5) * self.suite.kill_interval)

    def fault_redis(self):
        self.wait_progress(0.3)
        self.fault_log.append(f"redis-server killed (-9) with {self.r.call('SCARD', 'register-success_set')} registered")
        self.redis.crash()
        time.sleep(3)
        self.redis.start()
        after = self.r.call("SCARD", "register-success_set")
        self.fault_log.append(f"redis-server started again: {after} registered, "
                              f"{sum(self.r.call('LLEN', q) for q in QUEUES)} queued")
        self.stop_faults.wait()

    fault_redis_restart = fault_redis
    fault_redis_everysec = fault_redis
    fault_redis_nopersist = fault_redis

    def fault_pg_restart(self):
        self.wait_progress(0.3)
        self.suite.pg.crash()
        time.sleep(5)
        self.suite.pg.start()
        self.fault_log.append("postgres stopped (immediate) for 5 s")
        self.stop_faults.wait()

    def fault_s3_outage(self):
        self.wait_progress(0.3)
        self.suite.proxy.down()
        time.sleep(self.suite.outage)
        self.suite.proxy.up()
        self.fault_log.append(f"object storage unreachable for {self.suite.outage} s")
        self.stop_faults.wait()

    def fill(self, path, seconds):
        filler = os.path.join(path, "filler")
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(b"\0" * (1 << 20))
                    f.flush()
            except OSError:
                pass
        self.fault_log.append(f"{path} full for {seconds} s")
        time.sleep(seconds)
        os.remove(filler)

    def fault_disk_tiles(self):
        self.wait_progress(0.2)
        self.fill(self.tiles_dir, self.suite.outage)
        self.stop_faults.wait()

    def fault_disk_work(self):
        self.wait_progress(0.2)
        self.fill(self.work_dir, self.suite.outage)
        self.stop_faults.wait()

    def fault_netns(self):
        iso = [svc for svc in self.services["preprocessor"] if svc.netns][0]
        deadline = time.monotonic() + 120
        held = {}
        while time.monotonic() < deadline:
            held = {k: self.r.call("LRANGE", k, 0, -1) for k in self.r.scan("*:processing:pre-iso*")}
            held = {k: v for k, v in held.items() if v}
            if held:
                break
            time.sleep(0.05)
        held_ids = set()
        for items in held.values():
            for item in items:
                held_ids |= product_ids_in(item)
        sh("ip", "link", "set", VETH_HOST, "down")
        cut = time.monotonic()
        self.fault_log.append(f"pre-iso cut off holding {sorted(held_ids)}")
        log(f"{self.name}: pre-iso cut off holding {sorted(held_ids)}")
        time.sleep(35)  # past the heartbeat TTL (30 s)
        # A preprocessor starting runs `recover`, as the others do every minute.
        extra = Service("preprocessor", self.suite.pvs, self.env(), self.logs, ["--concurrency", "1"], "pre-c")
        extra.start()
        self.services["preprocessor"].append(extra)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not held_ids <= self.members("preprocess-success_set"):
            time.sleep(0.5)
        done = held_ids <= self.members("preprocess-success_set")
        self.fault_log.append(f"its items {'done by the others' if done else 'NOT done by the others'} "
                              f"{time.monotonic() - cut:.0f} s after the cut; link healed")
        self.iso_log_mark = os.path.getsize(os.path.join(self.logs, "preprocessor-pre-iso.log"))
        self.held_ids = held_ids
        sh("ip", "link", "set", VETH_HOST, "up")
        time.sleep(30)  # the cut-off worker comes back
        self.stop_faults.wait()

    # -- the checks --
    def check(self, ids, check_tiles):
        s = self.suite
        row = {"scenario": self.name, "fault": self.fault, "expected_loss": self.expected_loss}
        row["reports"] = len(s.reports.products) + len(s.reports.replacements)
        row["posts"] = self.ingest.posts
        row["post_retries"] = self.ingest.retries
        rows = s.pg.psql("SELECT id FROM products", self.db).split()
        row["catalog_rows"] = len(rows)
        row["catalog_products"] = len(ids & set(rows))
        row["catalog_duplicates"] = len(rows) - len(set(rows))
        row["catalog_unexpected"] = len(set(rows) - ids)
        # Registration reports: one per accepted report, each product a success.
        files = {}
        success_ids, failure_ids = set(), set()
        for f in sorted(os.listdir(self.report_dir)):
            if not f.endswith(".xml"):
                continue
            stem = f.split("_registration_")[0]
            files.setdefault(stem, []).append(f)
            tree = ET.parse(os.path.join(self.report_dir, f))
            for el in tree.iter():
                if el.tag.endswith("product"):
                    pid = status = None
                    for c in el:
                        if c.tag.endswith("identifier"):
                            pid = c.text
                        elif c.tag.endswith("status"):
                            status = c.text
                    (success_ids if status in ("success", "merged") else failure_ids).add(pid)
        accepted = {n for names in self.ingest.accepted.values() for n in names}
        row["registration_reports"] = sum(len(v) for v in files.values())
        row["reports_accepted"] = len(accepted)
        row["reports_missing"] = len(accepted - set(files))
        row["reports_duplicated"] = sum(len(v) - 1 for v in files.values() if len(v) > 1)
        row["reports_extra"] = len(set(files) - accepted)
        row["report_failures"] = len(failure_ids - success_ids)
        row["report_failure_ids"] = sorted(failure_ids)[:10]
        # Redis.
        success = {st: self.members(f"{st}-success_set") for st in ("preprocess", "register")}
        row["failed_then_retried"] = sum(len(v) for v in self.failed.values())
        row["failure_reasons"] = {st: list(v[1::2])[:3] for st, v in self.reasons.items()}
        row["failure_sets_after"] = {st: self.r.call("SCARD", f"{st}-failure_set") for st in STAGES}
        row["processing_after"] = self.processing()
        row["queued_after"] = {q: self.r.call("LLEN", q) for q in QUEUES if self.r.call("LLEN", q)}
        lost = set()
        lost |= ids - set(rows)
        lost |= ids - success["register"]
        lost |= ids - success["preprocess"]
        lost |= ids - success_ids
        row["lost"] = len(lost)
        row["lost_ids"] = sorted(lost)[:10]
        # Work done twice (at-least-once: expected after kills; never after a partition).
        preprocessed, registered = {}, {}
        for f in os.listdir(self.logs):
            for line in open(os.path.join(self.logs, f), errors="replace"):
                if '"preprocessed"' in line or '"product registered"' in line:
                    m = re.search(r"fp\d{5}", line)
                    if m:
                        d = preprocessed if '"preprocessed"' in line else registered
                        d[m.group()] = d.get(m.group(), 0) + 1
        replaced = {p[0] for p in s.reports.replacements}
        row["preprocessed_twice"] = sum(1 for k, v in preprocessed.items() if v > 1 + (k in replaced))
        row["registered_twice"] = sum(1 for k, v in registered.items() if v > 1 + (k in replaced))
        if self.fault == "netns" and hasattr(self, "iso_log_mark"):
            with open(os.path.join(self.logs, "preprocessor-pre-iso.log"), errors="replace") as fh:
                fh.seek(self.iso_log_mark)
                after = fh.read()
            redone = set()
            for line in after.splitlines():
                if '"preprocessed"' in line or '"skipped"' in line:
                    redone |= product_ids_in(line) & self.held_ids
            row["finished_by_cut_off_worker"] = sorted(redone)
        # Stale tiles: what the cache serves against what a cache with an empty store draws.
        fresh_dir = os.path.join(self.work, "fresh-tiles")
        os.makedirs(fresh_dir, exist_ok=True)
        fresh = Service("cache", s.pvs, dict(self.env(), TILES_STORAGE_URL="file://" + fresh_dir),
                        self.logs, name=None)
        fresh.start()
        cache = self.services["cache"][0]
        stale, compared, errors = [], 0, 0
        if wait_http(fresh.url("/health"), 60) and wait_http(cache.url("/health"), 60):
            for z, x, y in check_tiles:
                a_status, a = http_get(cache.url(f"/tiles/SAR/{z}/{x}/{y}.png"), timeout=60)
                b_status, b = http_get(fresh.url(f"/tiles/SAR/{z}/{x}/{y}.png"), timeout=60)
                if a_status != 200 or b_status != 200:
                    errors += 1
                    continue
                compared += 1
                if a != b:
                    stale.append(f"{z}/{x}/{y}")
                    kept = os.path.join(self.work, "stale")
                    os.makedirs(kept, exist_ok=True)
                    for side, data in (("served", a), ("fresh", b)):
                        with open(os.path.join(kept, f"{z}-{x}-{y}-{side}.png"), "wb") as fh:
                            fh.write(data)
        else:
            errors = len(check_tiles)
        fresh.stop()
        row["tiles_compared"] = compared
        row["tile_errors"] = errors
        row["stale_tiles"] = len(stale)
        row["stale_examples"] = stale[:5]
        row["kills"] = {k: v for k, v in self.kills.items() if v}
        row["exits"] = {k: v for k, v in self.exits.items() if v}
        row["events"] = self.fault_log + [f"{k}: {v} times, started again" for k, v in self.exit_reasons.items()]
        row["notes"] = self.notes
        bad = (row["lost"] or row["catalog_duplicates"] or row["reports_duplicated"]
               or row["reports_missing"] or row["stale_tiles"] or row["tile_errors"]
               or any(row["failure_sets_after"].values()) or row["processing_after"]
               or row["queued_after"] or row["catalog_unexpected"]
               or row.get("finished_by_cut_off_worker"))
        row["ok"] = not bad
        return row


def s3_put(port, path, data):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/{path}", data=data, method="PUT",
                                 headers={"Content-Type": "application/octet-stream"})
    with urllib.request.urlopen(req, timeout=30) as r:
        r.read()


# --- the suite -----------------------------------------------------------------------------

SCENARIOS = {
    "baseline": ("none", "always", False, "no fault"),
    # name: (fault, redis persistence, expected loss, what it is)
    "kill": ("kill", "always", False, "kill -9 of every service kind at random moments"),
    "redis-restart": ("redis-restart", "always", False, "Redis killed and restarted (AOF, appendfsync always)"),
    "redis-everysec": ("redis-everysec", "everysec", False, "Redis killed and restarted (AOF, appendfsync everysec)"),
    "redis-nopersist": ("redis-nopersist", "off", True, "Redis killed and restarted without persistence"),
    "pg-restart": ("pg-restart", "always", False, "PostgreSQL stopped (immediate) and started"),
    "s3-outage": ("s3-outage", "always", False, "object storage unreachable"),
    "netns": ("netns", "always", False, "a preprocessor cut off the network past the heartbeat TTL"),
    "disk-tiles": ("disk-tiles", "always", False, "the tile store's disk full"),
    "disk-work": ("disk-work", "always", False, "the preprocessor's work folder full"),
}
ROOT_ONLY = {"netns": "needs root (network namespace)", "disk-tiles": "needs root (tmpfs mount)",
             "disk-work": "needs root (tmpfs mount)"}


class Suite:
    def __init__(self, a):
        self.a = a
        self.pvs = a.pvs
        self.work = a.work
        self.kills, self.kill_interval, self.pace = a.kills, a.kill_interval, a.pace
        self.outage, self.wait = a.outage, a.wait
        self.netns = False
        self.cleanups = []

    def setup(self, scenarios):
        os.makedirs(self.work, exist_ok=True)
        self.bind = ["127.0.0.1"]
        self.unavailable = {}
        if "netns" in scenarios:
            try:
                self.make_netns()
            except Exception as e:  # noqa: BLE001 - the row is skipped with the reason
                sh("ip", "netns", "del", NETNS, check=False)
                self.unavailable["netns"] = f"no network namespace: {e}"
        if {"disk-tiles", "disk-work"} & set(scenarios):
            probe = os.path.join(self.work, "tmpfs-probe")
            os.makedirs(probe, exist_ok=True)
            r = sh("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", probe, check=False)
            if r.returncode:
                for row in ("disk-tiles", "disk-work"):
                    self.unavailable[row] = f"no tmpfs mount: {r.stderr.strip()}"
            else:
                sh("umount", probe, check=False)
        self.start_backends()

    def make_netns(self):
        sh("ip", "netns", "del", NETNS, check=False)
        sh("ip", "netns", "add", NETNS)
        self.cleanups.append(lambda: sh("ip", "netns", "del", NETNS, check=False))
        sh("ip", "link", "add", VETH_HOST, "type", "veth", "peer", "name", VETH_NS)
        sh("ip", "link", "set", VETH_NS, "netns", NETNS)
        sh("ip", "addr", "add", f"{HOST_IP}/30", "dev", VETH_HOST)
        sh("ip", "link", "set", VETH_HOST, "up")
        sh("ip", "netns", "exec", NETNS, "ip", "addr", "add", f"{NS_IP}/30", "dev", VETH_NS)
        sh("ip", "netns", "exec", NETNS, "ip", "link", "set", VETH_NS, "up")
        sh("ip", "netns", "exec", NETNS, "ip", "link", "set", "lo", "up")
        self.bind.append(HOST_IP)

    def start_backends(self):
        self.redis_port = free_port()
        self.pg = Postgres(free_port(), self.bind)
        self.pg.init()
        self.cleanups.append(self.pg.stop)
        self.s3_port = self.a.s3_port or free_port()
        env = dict(os.environ, PVS_S3_PORT=str(self.s3_port), TMPDIR=self.work)
        sh(os.path.join(REPO, "scripts", "s3-server.sh"), "start", env=env)
        self.cleanups.append(lambda: sh(os.path.join(REPO, "scripts", "s3-server.sh"), "stop",
                                        env=env, check=False))
        s3_put(self.s3_port, BUCKET, b"")
        self.proxy = Proxy(self.s3_port, self.bind)
        self.collections_file = os.path.join(self.work, "collections.toml")
        with open(self.collections_file, "w") as f:
            f.write(f"[collections.SAR]\nseed_zoom = [0, {self.a.seed_zoom}]\n")
        self.reports = Reports(self.work, self.a.reports, self.a.replaced)

    def cleanup(self):
        for c in reversed(self.cleanups):
            try:
                c()
            except Exception as e:  # noqa: BLE001
                log(f"cleanup: {e!r}")


def table(results):
    lines = ["| Fault | reports sent (POSTs answered, retried) | products in catalog | duplicates | "
             "registration reports (extra from retried POSTs) | failed, then retried | lost | "
             "stale tiles served (compared) | work done twice (preprocessed, registered) | outcome |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if "skipped" in r:
            lines.append(f"| {r['scenario']} | — | — | — | — | — | — | — | — | skipped: {r['skipped']} |")
            continue
        dup = r["catalog_duplicates"] + r["reports_duplicated"]
        outcome = "ok" if r["ok"] else ("expected loss (documented)" if r["expected_loss"] else "FAILED")
        lines.append(
            f"| {r['scenario']} | {r['reports']} ({r['posts']}, {r['post_retries']}) | "
            f"{r['catalog_products']} / {len(SUITE.reports.products)} | {dup} | "
            f"{r['registration_reports']} ({r['reports_extra']}) | {r['failed_then_retried']} | "
            f"{r['lost']} | {r['stale_tiles']} ({r['tiles_compared']}) | "
            f"{r['preprocessed_twice']}, {r['registered_twice']} | {outcome} |")
    return "\n".join(lines)


SUITE = None


def main():
    global SUITE
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--pvs", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--reports", type=int, default=1000)
    p.add_argument("--replaced", type=int, default=20)
    p.add_argument("--scenarios", default=" ".join(SCENARIOS))
    p.add_argument("--kills", type=int, default=5, help="kills of each service kind")
    p.add_argument("--kill-interval", type=float, default=1.0)
    p.add_argument("--pace", type=float, default=0.05, help="seconds between POSTs in the kill scenario")
    p.add_argument("--outage", type=int, default=30)
    p.add_argument("--wait", type=int, default=600, help="longest wait for the pipeline to settle")
    p.add_argument("--seed-zoom", type=int, default=4)
    p.add_argument("--s3-port", type=int, default=0)
    p.add_argument("--results", default=None)
    a = p.parse_args()
    names = a.scenarios.split()
    for n in names:
        if n not in SCENARIOS:
            sys.exit(f"unknown scenario {n}: {' '.join(SCENARIOS)}")
    results = []
    root = os.geteuid() == 0
    runnable = []
    for n in names:
        if n in ROOT_ONLY and not root:
            print(f"skipping {n}: {ROOT_ONLY[n]}, and this is not root", flush=True)
            results.append({"scenario": n, "skipped": ROOT_ONLY[n]})
        else:
            runnable.append(n)
    SUITE = Suite(a)
    try:
        SUITE.setup(runnable)
        for n in runnable:
            fault, persistence, loss, what = SCENARIOS[n]
            if n in SUITE.unavailable:
                print(f"skipping {n}: {SUITE.unavailable[n]}", flush=True)
                results.append({"scenario": n, "skipped": SUITE.unavailable[n]})
                continue
            sc = Scenario(SUITE, n, fault, persistence, loss)
            SUITE.current = sc
            t0 = time.monotonic()
            try:
                r = sc.run()
            except Exception as e:  # noqa: BLE001
                import traceback
                log(f"{n}: {traceback.format_exc()}")
                for svc in sc.all_services():
                    svc.stop()
                if hasattr(sc, "redis"):
                    sc.redis.stop()
                for m in reversed(sc.mounts):
                    sh("umount", "-l", m, check=False)
                r = {"scenario": n, "skipped": f"the run failed: {e!r}", "ok": False}
            r["seconds"] = round(time.monotonic() - t0)
            r["what"] = what
            results.append(r)
            log(f"{n}: {json.dumps(r)}")
    finally:
        sc = getattr(SUITE, "current", None)
        if sc is not None:  # interrupted: what the row started goes too
            sc.stop_all.set()
            for svc in sc.all_services():
                svc.stop()
            if hasattr(sc, "redis"):
                sc.redis.stop()
            for m in reversed(sc.mounts):
                sh("umount", "-l", m, check=False)
        SUITE.cleanup()
    print()
    print(f"{a.reports} products (+{a.replaced} replaced), {time.strftime('%Y-%m-%d', time.gmtime())}, "
          f"{os.cpu_count()} cores")
    print(table(results))
    print()
    for r in results:
        if "skipped" in r:
            continue
        extra = {k: r[k] for k in ("kills", "exits", "events", "notes", "failure_reasons", "lost_ids",
                                   "report_failure_ids", "failure_sets_after", "processing_after",
                                   "queued_after", "stale_examples", "finished_by_cut_off_worker",
                                   "seconds") if r.get(k)}
        print(f"- {r['scenario']}: {json.dumps(extra)}")
    if a.results:
        with open(a.results, "w") as f:
            json.dump(results, f, indent=1)
    failed = [r["scenario"] for r in results
              if (r.get("ok") is False and not r.get("expected_loss"))
              or ("skipped" in r and r.get("ok") is False)]
    if failed:
        print(f"FAILED: {' '.join(failed)}")
        sys.exit(1)
    print("every fault: 0 lost, 0 duplicated, no stale tile (rows marked expected loss aside)")


if __name__ == "__main__":
    main()
