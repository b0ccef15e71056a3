"""Peak resident memory of the benchmark's process tree (this process, dbt's, Dagster's), sampled.

The server is not in the tree: its processes share buffers, so their RSS sum counts shared memory
once per process; it is reported apart, as that sum, with the server's memory settings.
"""

from __future__ import annotations

import os
import threading

import psutil

INTERVAL = 0.1


def _server(p: psutil.Process) -> bool:
    try:
        return p.name().startswith("postgres")
    except psutil.Error:
        return False


class PeakRSS(threading.Thread):
    """`with PeakRSS() as peak:` … `peak.tree_mb`, `peak.server_mb` (maxima over the samples)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.tree_mb = 0.0
        self.server_mb = 0.0
        self._done = threading.Event()
        self._me = psutil.Process(os.getpid())

    def run(self) -> None:
        while not self._done.wait(INTERVAL):
            tree = server = 0
            for p in [self._me, *self._me.children(recursive=True)]:
                try:
                    if not _server(p):
                        tree += p.memory_info().rss
                except psutil.Error:
                    continue
            for p in psutil.process_iter(["name"]):
                try:
                    if (p.info["name"] or "").startswith("postgres"):
                        server += p.memory_info().rss
                except psutil.Error:
                    continue
            self.tree_mb = max(self.tree_mb, tree / 2**20)
            self.server_mb = max(self.server_mb, server / 2**20)

    def __enter__(self) -> PeakRSS:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self.join()
