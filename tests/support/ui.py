"""Helpers of the browser test: the project's `make ui` launcher as a test instance, its
GraphQL endpoint, and headless Chromium (Debian's package) driven by Playwright."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipelines.paths import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; `make test` installs it when missing
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
LOCATION = "pipelines.definitions:defs"  # the code location of workspace.yaml
REPOSITORY = "__repository__"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(base: str, query: str, variables: Mapping[str, Any] | None = None) -> dict:
    """POST a query to the webserver's /graphql; its `data`, or an AssertionError."""
    body = json.dumps({"query": query, "variables": dict(variables or {})}).encode()
    request = urllib.request.Request(base + "/graphql", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        answer = json.load(response)
    assert not answer.get("errors"), answer["errors"]
    return answer["data"]


LOCATIONS = """{ workspaceOrError { __typename ... on Workspace { locationEntries {
  name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


class DagsterUI:
    """`python -m pipelines.instance.ui` (what `make ui` runs) in a process group of its own."""

    def __init__(self, env: Mapping[str, str], port: int, log_dir: Path):
        self.env = dict(env)
        self.env["HUILIU_UI_PORT"] = str(port)
        self.base = f"http://127.0.0.1:{port}"
        self.log_dir = log_dir
        self.proc: subprocess.Popen | None = None
        self.log_path: Path | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        self.log_path = self.log_dir / f"ui-{self.starts}.log"
        with open(self.log_path, "wb") as log:
            # ui.py execs `env --default-signal=INT,TERM dagster dev`: the pid is dagster dev's,
            # and the webserver, daemon, code server and run workers share its process group.
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "pipelines.instance.ui"], cwd=PROJECT_ROOT, env=self.env,
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)

    def wait_ready(self, timeout: float = 240) -> float:
        """Until the webserver answers and the code location is loaded; seconds waited."""
        assert self.proc is not None
        started = time.monotonic()
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"`make ui` exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                data = graphql(self.base, LOCATIONS)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                data = None
            if data:
                entries = {e["name"]: e for e in data["workspaceOrError"].get("locationEntries", [])}
                entry = entries.get(LOCATION)
                if entry and entry["loadStatus"] == "LOADED":
                    error = entry["locationOrLoadError"]
                    assert error["__typename"] == "RepositoryLocation", error
                    return time.monotonic() - started
            if time.monotonic() - started > timeout:
                raise AssertionError(f"the UI was not ready after {timeout} s:\n{self.log_tail()}")
            time.sleep(1)

    def stop(self, timeout: float = 60) -> None:
        """SIGTERM to the whole process group (as Ctrl-C stops `make ui`); SIGKILL if it lingers."""
        if self.proc is None:
            return
        pgid = self.proc.pid
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while _group_alive(pgid) and time.monotonic() < deadline:
            self.proc.poll()  # reap the leader so the group can empty
            time.sleep(0.3)
        lingering = _group_alive(pgid)
        if lingering:
            os.killpg(pgid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc = None
        assert not lingering, f"`make ui` did not stop on SIGTERM within {timeout} s"

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
