"""A real OpenAI-compatible embedding server for tests: infinity-emb serving the bundled
all-MiniLM-L6-v2 from its local folder, on 127.0.0.1, offline.

infinity-emb pins libraries (transformers 4.x, numpy 1.x) that the project's own environment
has newer, so it lives in a venv of its own, made on first use from the pinned
tests/infinity-requirements.txt (~4 min from PyPI): by default `.venv-infinity` beside the
checkout, or the folder QA_TEST_INFINITY_VENV names. `make test` starts making it in the
background (`python3.11 tests/embed_server.py`) while it installs the project; the tests wait
for that build to finish.
"""

from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = Path(__file__).resolve().parent / "infinity-requirements.txt"
TORCH = "torch==2.13.0"  # the CPU build (as the Makefile installs it): before the rest
SERVED_NAME = "minilm"


# Read once, at import: the tests themselves run without QA_* variables (conftest._isolate).
VENV = Path(os.environ.get("QA_TEST_INFINITY_VENV") or ROOT / ".venv-infinity")


def install(venv: Path) -> str | None:
    """Make the server's venv unless it works already; returns why it could not, or None.
    One build at a time: a second caller waits for the first and finds the venv made."""
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f"{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _install(venv)


def _install(venv: Path) -> str | None:
    server = venv / "bin" / "infinity_emb"
    stamp = venv / f".installed-{REQUIREMENTS.stat().st_size}"
    if server.is_file() and stamp.is_file():
        return None
    python = "python3.11" if sys.version_info[:2] != (3, 11) else sys.executable
    steps = [[python, "-m", "venv", "--clear", str(venv)],
             [str(venv / "bin" / "pip"), "install", "--quiet", TORCH],
             [str(venv / "bin" / "pip"), "install", "--quiet", "-r", str(REQUIREMENTS)]]
    if server.is_file():  # an existing venv from another requirements file: top it up
        steps = steps[2:]
    for cmd in steps:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            return f"`{' '.join(cmd)}` failed: {' | '.join(tail)}"
    stamp.touch()
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EmbedServer:
    """One infinity-emb process; `start` waits until it answers, `kill` ends it at once."""

    def __init__(self, venv: Path, model_dir: Path, log: Path, port: int | None = None) -> None:
        self.venv, self.model_dir, self.log_path = venv, model_dir, log
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 180) -> None:
        import httpx  # not in the interpreter that only runs `install`

        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "DO_NOT_TRACK": "1", "INFINITY_ANONYMOUS_USAGE_STATS": "0",
               "OMP_NUM_THREADS": str(len(os.sched_getaffinity(0)))}
        cmd = [str(self.venv / "bin" / "infinity_emb"), "v2",
               "--model-id", str(self.model_dir), "--served-model-name", SERVED_NAME,
               "--host", "127.0.0.1", "--port", str(self.port), "--url-prefix", "/v1",
               "--engine", "torch", "--device", "cpu", "--no-bettertransformer",
               "--batch-size", "32"]
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"infinity_emb exited ({self.proc.returncode}); see "
                                   f"{self.log_path}: {self.log_path.read_text()[-1500:]}")
            try:
                if httpx.get(f"{self.base_url}/models", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"infinity_emb did not answer within {timeout} s; see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL: the server vanishes mid-request, as a crashed host would."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(15)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


if __name__ == "__main__":  # `make test`: build the venv while the project installs
    failed = install(VENV)
    if failed:
        sys.exit(failed)
