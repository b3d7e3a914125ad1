#!/usr/bin/env python3
"""Normal-request latency of one pvs service while another process attacks it.

Run by benches/flood/run.sh, once per (round, service, fault). The attacker runs in a child
process (asyncio, raw sockets) so that it does not share the interpreter lock with the
measurement; the parent waits until the attack is in place, then sends normal requests one
after another, each on a new connection (a new client), for --seconds, and prints one JSON
line per kind of request: count, errors, p50, p95 and max in milliseconds, and what the
attacker saw (connections opened, closed by the server).

Faults:
  baseline   no attack;
  idle       --connections connections that send nothing, opened again when closed;
  slowloris  --connections connections sending a request head one header line every
             --interval seconds, never ending it, opened again when closed;
  slowbody   --connections connections sending a POST of 1 MiB to --slow-path, one byte
             every --interval seconds, opened again when closed;
  flood      --flooders loops opening and closing connections as fast as they can.

Python 3.11 standard library only.
"""

import argparse
import asyncio
import http.client
import json
import multiprocessing
import resource
import statistics
import sys
import time

FAULTS = ("baseline", "idle", "slowloris", "slowbody", "flood")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--service", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--fault", choices=FAULTS, required=True)
    parser.add_argument("--round", type=int, default=1)
    parser.add_argument(
        "--request",
        action="append",
        required=True,
        metavar="NAME=METHOD PATH[@BODYFILE]",
        help="a normal request, e.g. 'GetMap=GET /ows?...' or 'ingest=POST /ingest@report.xml'",
    )
    parser.add_argument("--slow-path", default="/", help="where slow bodies are POSTed")
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--flooders", type=int, default=8)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--pause", type=float, default=0.02, help="between normal requests")
    parser.add_argument("--timeout", type=float, default=10.0, help="of a normal request")
    return parser.parse_args()


def parse_request(text):
    name, _, rest = text.partition("=")
    method, _, target = rest.partition(" ")
    path, _, body_file = target.partition("@")
    body = open(body_file, "rb").read() if body_file else None
    return name, method, path, body


# --------------------------------------------------------------------------------------
# The attacker (child process).


class Counters:
    """Shared with the parent: connections opened, closed by the server, open now."""

    def __init__(self):
        self.opened = multiprocessing.Value("q", 0, lock=False)
        self.closed = multiprocessing.Value("q", 0, lock=False)
        self.open = multiprocessing.Value("q", 0, lock=False)


async def connect(host, port):
    return await asyncio.wait_for(asyncio.open_connection(host, port), timeout=10)


async def hold(args, counters, send_head, send_more):
    """One attacking connection, opened again whenever the server closes it."""
    while True:
        try:
            reader, writer = await connect(args.host, args.port)
        except (OSError, asyncio.TimeoutError):
            await asyncio.sleep(0.1)
            continue
        counters.opened.value += 1
        counters.open.value += 1
        try:
            if send_head:
                writer.write(send_head)
                await writer.drain()
            while True:
                try:
                    # Whatever comes back (an error answer, the end of the stream) ends it.
                    data = await asyncio.wait_for(reader.read(4096), timeout=args.interval)
                    if not data:
                        break
                except asyncio.TimeoutError:
                    if send_more:
                        writer.write(send_more)
                        await writer.drain()
        except OSError:
            pass
        finally:
            counters.open.value -= 1
            counters.closed.value += 1
            writer.close()
        await asyncio.sleep(0.05)


async def flood(args, counters):
    """Opens and closes connections as fast as it can."""
    while True:
        try:
            _, writer = await connect(args.host, args.port)
            counters.opened.value += 1
            writer.close()
        except (OSError, asyncio.TimeoutError):
            await asyncio.sleep(0.01)


async def attack(args, counters):
    host = f"{args.host}:{args.port}".encode()
    if args.fault == "flood":
        tasks = [flood(args, counters) for _ in range(args.flooders)]
    else:
        if args.fault == "idle":
            head, more = None, None
        elif args.fault == "slowloris":
            head = b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n"
            more = b"X-Slow: loris\r\n"
        else:
            head = (
                b"POST " + args.slow_path.encode() + b" HTTP/1.1\r\nHost: " + host
                + b"\r\nContent-Type: application/xml\r\nContent-Length: 1048576\r\n\r\n<"
            )
            more = b"x"
        tasks = []
        for index in range(args.connections):
            tasks.append(hold(args, counters, head, more))
    # Started a little apart, so that the listen backlog is not overrun at once.
    running = []
    for index, task in enumerate(tasks):
        running.append(asyncio.ensure_future(task))
        if index % 100 == 99:
            await asyncio.sleep(0.05)
    await asyncio.gather(*running)


def attacker(args, counters):
    asyncio.run(attack(args, counters))


# --------------------------------------------------------------------------------------
# The measurement (parent process).


def normal_request(args, method, path, body):
    """One request on a new connection: milliseconds taken, or raises."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection(args.host, args.port, timeout=args.timeout)
    try:
        headers = {"Connection": "close"}
        if body is not None:
            headers["Content-Type"] = "application/xml"
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: status {response.status}")
    finally:
        connection.close()
    return (time.perf_counter() - started) * 1000


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main():
    args = parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    requests = [parse_request(text) for text in args.request]

    counters = Counters()
    child = None
    if args.fault != "baseline":
        child = multiprocessing.Process(target=attacker, args=(args, counters), daemon=True)
        child.start()
        # In place: every connection open (or, for the flood, a second of it).
        deadline = time.monotonic() + 30
        wanted = args.connections if args.fault != "flood" else 0
        time.sleep(1)
        while counters.open.value < wanted * 0.95 and time.monotonic() < deadline:
            time.sleep(0.2)

    latencies = {name: [] for name, *_ in requests}
    errors = {name: [] for name, *_ in requests}
    opened_before = counters.opened.value
    closed_before = counters.closed.value
    started = time.monotonic()
    while time.monotonic() - started < args.seconds:
        for name, method, path, body in requests:
            try:
                latencies[name].append(normal_request(args, method, path, body))
            except Exception as error:  # noqa: BLE001 - every failure counts as one
                errors[name].append(str(error))
            time.sleep(args.pause)
    elapsed = time.monotonic() - started
    attack_stats = {
        "opened_per_s": round((counters.opened.value - opened_before) / elapsed),
        "closed_by_server_per_s": round((counters.closed.value - closed_before) / elapsed),
        "open": counters.open.value,
    }
    if child is not None:
        child.terminate()
        child.join()

    for name, *_ in requests:
        values = latencies[name]
        row = {
            "service": args.service,
            "request": name,
            "fault": args.fault,
            "round": args.round,
            "count": len(values),
            "errors": len(errors[name]),
            "first_error": errors[name][0] if errors[name] else None,
            "p50": round(statistics.median(values), 2) if values else None,
            "p95": round(percentile(values, 0.95), 2) if values else None,
            "max": round(max(values), 2) if values else None,
            "attack": attack_stats,
        }
        print(json.dumps(row))
        print(
            f"[flood bench] round {args.round} {args.service} {name} {args.fault}: "
            f"p50 {row['p50']} ms, p95 {row['p95']} ms, max {row['max']} ms, "
            f"{row['count']} answered, {row['errors']} failed {row['first_error'] or ''}; "
            f"attacker {attack_stats}",
            file=sys.stderr,
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
