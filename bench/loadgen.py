"""Load generators of bench/ingest.py, loopback only (127.0.0.1) and bounded in time and connections.

- `post_all`: the Mandrill POSTs from a few Python threads over raw sockets (a POST is ~300 KB of
  prepared bytes, so the client's CPU per event is negligible).
- `wrk`: Debian's wrk (C, epoll) for the pixel: one client thread, a fixed number of connections,
  a fixed duration; paths rotate through a list of real signed tokens; either a new TCP connection
  per request (`Connection: close`, as mail clients opening one message do) or kept-alive
  connections (as image proxies such as Gmail's and Apple's reuse them). Figures come from wrk's
  own done() hook as JSON.
"""

from __future__ import annotations

import json
import resource
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HOST = "127.0.0.1"

_WRK_SCRIPT = """
local paths = {%(paths)s}
local i = 0
init = function(args) i = math.random(#paths) end
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i], %(headers)s)
end
done = function(summary, latency, requests)
  io.write(string.format('{"requests":%%d,"duration_us":%%d,"status_errors":%%d,"socket_errors":%%d,' ..
    '"timeouts":%%d,"p50_us":%%d,"p99_us":%%d,"max_us":%%d}\\n', summary.requests, summary.duration,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write,
    summary.errors.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def request(port: int, method: str, path: str, body: bytes, headers: dict) -> tuple[int, bytes]:
    head = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}", "Connection: close", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection((HOST, port), timeout=60) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    response = b"".join(chunks)
    return int(response[9:12]), response


def wait_until_up(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if request(port, "GET", "/healthz", b"", {})[0] == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the server on port {port} did not come up")


def post_all(port: int, requests: list[tuple], *, concurrency: int, seconds: float, ok: tuple[int, ...] = (200,)) -> dict:
    """Send the requests with `concurrency` in flight; stop early at the time limit. Statuses in `ok` succeed."""
    latencies, errors, lock = [], [], threading.Lock()
    deadline = time.monotonic() + seconds
    queue = iter(requests)

    def worker() -> None:
        while time.monotonic() < deadline:
            with lock:
                item = next(queue, None)
            if item is None:
                return
            started = time.perf_counter()
            status, response = request(port, *item)
            elapsed = time.perf_counter() - started
            with lock:
                (latencies if status in ok else errors).append(elapsed if status in ok else response[:300])

    started, cpu_before = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(worker) for _ in range(concurrency)]:
            future.result()
    wall = time.perf_counter() - started
    latencies.sort()
    return {"ok": len(latencies), "errors": errors, "wall": wall, "client_cpu": (time.process_time() - cpu_before) / wall,
            "p50_ms": percentile(latencies, 50) * 1000, "p99_ms": percentile(latencies, 99) * 1000}


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(round(pct / 100 * (len(values) - 1))))]


def wrk(port: int, paths: list[str], *, connections: int, seconds: float, keep_alive: bool) -> dict:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    headers = "nil" if keep_alive else '{["Connection"] = "close"}'
    script = _WRK_SCRIPT % {"paths": ",".join(json.dumps(p) for p in paths), "headers": headers}
    with tempfile.TemporaryDirectory() as tmp:
        lua = Path(tmp) / "pixel.lua"
        lua.write_text(script)
        cpu_before = _children_cpu()
        out = subprocess.run(["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds:g}s", "--timeout", "10s",
                              "-s", str(lua), f"http://{HOST}:{port}/"],
                             capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
        client_cpu = _children_cpu() - cpu_before
    figures = json.loads(out.strip().splitlines()[-1])
    ok = figures["requests"] - figures["status_errors"]
    wall = figures["duration_us"] / 1e6
    return {"ok": ok, "errors": figures["status_errors"] + figures["socket_errors"] + figures["timeouts"],
            "wall": wall, "rate": ok / wall, "p50_ms": figures["p50_us"] / 1000, "p99_ms": figures["p99_us"] / 1000,
            "max_ms": figures["max_us"] / 1000, "client_cpu": client_cpu / wall}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
