"""The token key: another key is refused, a rotation re-keys every token in one publish, no child sees it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.county import DAY

from pipelines.govern import token_key as tk
from pipelines.runner import run_batch_date
from pipelines.tiers import dbt

HUILIU = str(Path(sys.executable).parent / "huiliu")
NEW_KEY = "a-rotated-token-key-for-the-security-tests"


def _tokens(c) -> set[str]:
    return {r[0] for r in c.execute("SELECT id_number_token FROM published.city__household_registration "
                                    "LIMIT 500")}


def test_a_run_with_another_key_is_refused_and_a_rotation_rekeys_every_token(published, monkeypatch) -> None:
    with published.connect() as c:
        before = _tokens(c)
        published_before = c.execute("SELECT count(*) FROM governance.publish_log").fetchone()[0]
        old = tk.installed_fingerprint(c)
    monkeypatch.setenv("HUILIU_DATABASE_URL", published.url)
    monkeypatch.setenv(tk.KEY_VARIABLE, NEW_KEY)
    refused = run_batch_date(published.landing, DAY, log_level="ERROR")
    assert refused.failure and "rotate-key" in refused.failure
    assert tk.fingerprint(NEW_KEY.encode()) in refused.failure
    assert NEW_KEY not in refused.failure
    with published.connect() as c:
        assert c.execute("SELECT count(*) FROM governance.publish_log").fetchone()[0] == published_before
        assert _tokens(c) == before and tk.installed_fingerprint(c) == old
    rotated = subprocess.run([HUILIU, "rotate-key"], capture_output=True, text=True, env=dict(os.environ),
                             timeout=900)
    assert rotated.returncode == 0, rotated.stderr[-3000:]
    assert NEW_KEY not in rotated.stdout + rotated.stderr
    with published.connect() as c:
        after = _tokens(c)
        assert after and not after & before  # every token re-keyed, in one publish
        assert c.execute("SELECT count(*) FROM governance.publish_log").fetchone()[0] == published_before + 1
        (old_fp, new_fp, by) = c.execute("SELECT old_fingerprint, new_fingerprint, rotated_by "
                                         "FROM governance.key_rotations").fetchone()
        assert (old_fp, new_fp) == (old, tk.fingerprint(NEW_KEY.encode())) and by


def test_the_demo_key_file_is_never_used_for_another_server_and_children_never_get_the_key(monkeypatch) -> None:
    monkeypatch.setenv("HUILIU_DATABASE_URL", "postgresql://someone@db.example:5432/county")
    monkeypatch.delenv(tk.KEY_VARIABLE, raising=False)
    tk.KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
    existed = tk.KEY_FILE.exists()
    if not existed:
        tk.KEY_FILE.write_text("a-demo-key-that-must-not-be-used\n")
    try:
        with pytest.raises(tk.TokenKeyError, match="HUILIU_DATABASE_URL is set"):
            tk.token_key()
    finally:
        if not existed:
            tk.KEY_FILE.unlink()
    monkeypatch.setenv(tk.KEY_VARIABLE, NEW_KEY)
    assert tk.KEY_VARIABLE not in dbt.environment("postgresql://u:p@127.0.0.1:5432/d")
    with tk.key_withheld():
        assert tk.KEY_VARIABLE not in os.environ
    assert os.environ[tk.KEY_VARIABLE] == NEW_KEY
