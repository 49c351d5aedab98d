"""Peak RSS growth while NemoClient uploads a 200 MB file to a local sink (target: <= 32 MB).

The upload must stream the file from disk; a client that read it whole would grow by at least the
file size, which is the baseline here. The sink is a separate process (http.server on 127.0.0.1)
that reads and discards the body and answers a valid upload envelope with the byte count it got, so
the figure is the uploading process's alone, and the byte count proves the whole file was sent.

Run: python bench/upload_memory.py [--size-mb 200]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from nemo_provider.client import NemoClient

SINK = r"""
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Sink(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        received = 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                while size:
                    chunk = self.rfile.read(min(size, 1 << 20))
                    received += len(chunk)
                    size -= len(chunk)
                self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length", "0"))
            while left:
                chunk = self.rfile.read(min(left, 1 << 20))
                if not chunk:
                    break
                received += len(chunk)
                left -= len(chunk)
        body = json.dumps({"code": 0, "message": "ok", "data": {
            "files": [{"filename": "bench.mp4", "file_type": "video"}],
            "session_state_applied": True, "received": received}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


class PeakRss:
    """Samples this process's RSS every few ms on a thread and keeps the maximum."""

    def __init__(self, interval: float = 0.002) -> None:
        self._proc = psutil.Process()
        self._interval = interval
        self._stop = threading.Event()
        self.peak = self._proc.memory_info().rss
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            self._stop.wait(self._interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)


def write_file(path: Path, size: int) -> None:
    block = os.urandom(1 << 20)
    with open(path, "wb") as fh:
        written = 0
        while written < size:
            n = min(len(block), size - written)
            fh.write(block[:n])
            written += n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--target-mb", type=float, default=32.0)
    args = parser.parse_args()
    size = args.size_mb * 1024 * 1024

    sink = subprocess.Popen([sys.executable, "-c", SINK], stdout=subprocess.PIPE, text=True)
    try:
        assert sink.stdout is not None
        port = int(sink.stdout.readline())
        base = f"http://127.0.0.1:{port}"
        with tempfile.TemporaryDirectory(prefix="nemo-upload-bench-") as tmp:
            big = Path(tmp) / "bench.mp4"
            small = Path(tmp) / "warmup.mp4"
            write_file(big, size)
            write_file(small, 64 * 1024)
            with NemoClient(base, token="bench-token", timeout=120.0) as client:
                client.upload("1", files=[small])  # import and connection costs out of the measurement
                before = psutil.Process().memory_info().rss
                started = time.perf_counter()
                with PeakRss() as rss:
                    result = client.upload("1", files=[big])
                elapsed = time.perf_counter() - started
        received = int((result.model_extra or {}).get("received", 0))
        if received < size:
            print(f"the sink received {received} bytes, fewer than the file's {size}", file=sys.stderr)
            return 1
    finally:
        sink.terminate()
        sink.wait(timeout=10)

    growth_mb = (rss.peak - before) / (1024 * 1024)
    file_mb = size / (1024 * 1024)
    print(
        f"uploaded {file_mb:.0f} MB in {elapsed:.2f} s ({file_mb / elapsed:.0f} MB/s); sink received {received} bytes"
    )
    print(f"peak RSS growth while uploading: {growth_mb:.2f} MB = {growth_mb / file_mb:.4f} x the file size")
    print(
        json.dumps(
            {
                "bench": "upload_memory",
                "value": round(growth_mb, 2),
                "unit": "MB",
                "target": args.target_mb,
                "baseline": round(file_mb, 2),
                "ratio": round(growth_mb / file_mb, 4),
                "ok": growth_mb <= args.target_mb,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
