"""Real ``evomem serve`` / ``evomem mcp`` processes on free loopback ports, for the service tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

CLI = "from evomem.cli import main; main(prog_name='evomem')"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def evomem_command(model: Path, *args: str) -> list[str]:
    """The ``evomem`` command line, run by this interpreter (so the tested checkout is the one imported)."""
    return [sys.executable, "-c", CLI, "--model", str(model), *args]


def child_env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}


@dataclass
class Server:
    process: subprocess.Popen
    url: str
    log: Path

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM (a graceful shutdown), then the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def start(command: list[str], url: str, ready_path: str, log: Path, timeout: float = 120) -> Server:
    """Start ``command`` and wait until GET ``url + ready_path`` answers (any status under 500)."""
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=child_env())
    server = Server(process, url, log)
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url + ready_path, timeout=2).status_code < 500:
                return server
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"server did not start: {server.output()}")
        time.sleep(0.2)


def serve(model: Path, path: Path, *options: str, global_options: tuple[str, ...] = ()) -> Server:
    """``evomem [global_options] serve --path path options``."""
    port = free_port()
    command = evomem_command(model, *global_options, "serve", "--path", str(path), "--port", str(port), *options)
    return start(command, f"http://127.0.0.1:{port}", "/readyz", path.parent / f"serve-{port}.log")
