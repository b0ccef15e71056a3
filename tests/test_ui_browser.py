"""The operator's path through the Dagster UI, in a real (headless Chromium) browser.

`make ui`'s own launcher starts a test instance (its own DAGSTER_HOME and Dagster database)
over the test warehouse; two generated batch dates land; the browser shows the asset
groups, launches one backfill of both dates from the global asset graph, and, once it has
succeeded, the asset pages plot each dataset's rows received, loaded and kept aside per batch
date and each tier's rows published, with the kept-aside reasons and the gates as tables. A
publish launched from the asset page with the town tier corrupted fails, and the town's check
shows the failures table. The runs are still listed after the UI is stopped and started again.

Screenshots and the UI's logs are kept under `.huiliu/test-artifacts/ui-browser/`.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from playwright.sync_api import Page, expect, sync_playwright
from support.db import reset_warehouse
from support.faults import PLANTED_ID, town_tier_corrupted
from support.ui import CHROMIUM, CHROMIUM_ARGS, LOCATION, REPOSITORY, DagsterUI, free_port, graphql

from pipelines.paths import STATE_DIR
from pipelines.resources import WAREHOUSE_POOL
from pipelines.warehouse import drop_database, with_database

pytestmark = pytest.mark.slow

DATES = ("2026-11-01", "2026-11-02")
PEOPLE, SEED = 2000, 1
GROUPS = ("ingest", "staging", "governance", "tiers", "publish")
BACKFILL_TIMEOUT = 15 * 60
ARTIFACTS = STATE_DIR / "test-artifacts" / "ui-browser"
HUILIU = str(Path(sys.executable).parent / "huiliu")
RAW_PREFIX = "raw"
PUBLISH = ["publish", "warehouse"]

SENSOR = """query($s: SensorSelector!) { sensorOrError(sensorSelector: $s) {
  __typename ... on Sensor { sensorState { status } } } }"""
BACKFILL = """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
  __typename ... on PartitionBackfill { status isAssetBackfill
    runs(limit: 100) { runId status startTime endTime tags { key value }
      assetSelection { path } } }
  ... on PythonError { message } } }"""
ALL_RUNS = """{ runsOrError(limit: 100) { __typename ... on Runs {
  results { runId status jobName tags { key value } } } } }"""
AUDIT_JOB = "read_audit_job"  # the hourly query-audit sync may tick during the test: it writes no data
LATEST_MATERIALIZATION = """query($key: AssetKeyInput!) { assetOrError(assetKey: $key) {
  __typename ... on Asset { assetMaterializations(limit: 1) { runId } } } }"""
FAILURES = """query($id: ID!) { logsForRun(runId: $id) { __typename ... on EventConnection {
  events { __typename ... on ExecutionStepFailureEvent { stepKey error { message } }
           ... on RunFailureEvent { message } } } } }"""
OBSERVATIONS = """query($key: AssetKeyInput!) { assetOrError(assetKey: $key) { __typename ... on Asset {
  assetObservations(limit: 20) { partition metadataEntries { label __typename
    ... on IntMetadataEntry { intValue } } } } } }"""
LATEST_RUN = """query($key: AssetKeyInput!) { assetOrError(assetKey: $key) { __typename ... on Asset {
  assetMaterializations(limit: 1) { runId metadataEntries { label __typename } } } } }"""
RUN_STATUS = """query($id: ID!) { runOrError(runId: $id) { __typename ... on Run { runId status } } }"""
RUNS_OF_ASSET = """{ runsOrError(limit: 20) { __typename ... on Runs { results { runId status
  assetSelection { path } } } } }"""
PLOTTED = ("rows received", "rows loaded", "rows kept aside")
DONE = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
PAGE_TIMEOUT_MS = 60_000  # a first page load on a cold webserver, on 2 busy cores

expect.set_options(timeout=PAGE_TIMEOUT_MS)


@pytest.fixture
def instance(warehouse_url, tmp_path):
    """The environment of a test `make ui`: own state dir, Dagster database, landing, port."""
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        reset_warehouse(conn)
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    dagster_db = f"huiliu_test_dagster_{os.getpid()}"
    admin = with_database(warehouse_url, "postgres")
    drop_database(admin, dagster_db)
    env = dict(os.environ)
    env.pop("DAGSTER_HOME", None)  # derived from HUILIU_STATE_DIR, as `make ui` does
    env.update(HUILIU_STATE_DIR=str(tmp_path / "state"), HUILIU_DAGSTER_DB=dagster_db,
               HUILIU_LANDING=str(tmp_path / "landing"))
    ui = DagsterUI(env, free_port(), ARTIFACTS)
    try:
        yield ui, tmp_path
    finally:
        ui.stop()
        drop_database(admin, dagster_db)


def test_backfill_from_the_ui_and_runs_survive_a_restart(instance):
    assert CHROMIUM.is_file(), f"{CHROMIUM} is missing: `make test` installs Debian's chromium"
    ui, tmp = instance
    t0 = time.monotonic()
    ui.start()
    incoming = tmp / "incoming"  # generated while the UI starts; moved to landing later
    for day in DATES:
        subprocess.run([HUILIU, "generate", "--landing", str(incoming), "--date", day,
                        "--people", str(PEOPLE), "--seed", str(SEED)],
                       check=True, capture_output=True, timeout=300)
    print(f"\nUI ready in {ui.wait_ready():.0f} s at {ui.base}")
    home = tmp / "state" / "dagster_home"
    assert f"db_name: {ui.env['HUILIU_DAGSTER_DB']}" in (home / "dagster.yaml").read_text()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = _new_page(browser)
            try:
                _stop_landing_sensor(page, ui.base)
                incoming.rename(Path(ui.env["HUILIU_LANDING"]))  # the batches arrive
                _check_groups(page, ui.base)
                backfill_id = _launch_backfill(page, ui.base)
                runs = _wait_for_backfill(ui.base, backfill_id, t0)
                _check_backfill_page(page, ui.base, backfill_id)
                _check_pools(page, ui.base)
                _check_plots_and_tables(page, ui.base)
                runs.append(_publish_refused(page, ui.base))
            except BaseException:
                _save(page, "failure")
                raise
            page.context.close()

            ui.stop()
            ui.start()
            print(f"UI restarted in {ui.wait_ready():.0f} s")
            page = _new_page(browser)
            try:
                _check_runs_listed(page, ui.base, backfill_id, runs)
            except BaseException:
                _save(page, "failure-after-restart")
                raise
        finally:
            browser.close()
    print(f"browser test: {time.monotonic() - t0:.0f} s; screenshots and logs in {ARTIFACTS}")


# --- steps ---------------------------------------------------------------------------------


def _new_page(browser) -> Page:
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    page = context.new_page()
    # ui.py turns Dagster's "Join the Dagster community" dialog off (`nux`); should it come
    # back, it would cover what the test clicks: skip it whenever it shows.
    nux = page.get_by_role("dialog").filter(has_text="Join the Dagster community")
    page.add_locator_handler(nux, lambda d: d.get_by_role("button", name="Skip").click())
    return page


def _save(page: Page, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    print(f"screenshot: {path}")
    return path


def _stop_landing_sensor(page: Page, base: str) -> None:
    """The landing sensor would start one run per delivery: turn it off before they land."""
    page.goto(f"{base}/locations/{quote(LOCATION, safe='')}/sensors/landing_sensor")
    running = page.get_by_role("row").filter(has_text="Running")
    switch = running.get_by_role("checkbox")
    expect(switch).to_be_checked()
    running.locator("label").click()  # the switch's input is hidden behind its label
    expect(switch).not_to_be_checked()
    selector = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY,
                "sensorName": "landing_sensor"}
    state = graphql(base, SENSOR, {"s": selector})["sensorOrError"]["sensorState"]["status"]
    assert state == "STOPPED"


def _check_groups(page: Page, base: str) -> None:
    page.goto(f"{base}/asset-groups")  # Lineage: the global asset graph, one node per group
    graph = page.locator("foreignObject")
    for group in GROUPS:
        expect(graph.get_by_text(group, exact=True).first).to_be_visible()
    _save(page, "1-asset-graph")


def _launch_backfill(page: Page, base: str) -> str:
    """Materialize all… → Custom partitions `[first...last]` → Launch backfill."""
    page.get_by_role("button", name="Materialize all").click()
    dialog = page.get_by_role("dialog").filter(has_text="Partition selection")
    partitions = dialog.get_by_placeholder("No matching partitions")
    partitions.fill(f"[{DATES[0]}...{DATES[-1]}]")
    partitions.press("Enter")
    expect(dialog.get_by_text(f"{len(DATES)} partitions", exact=True)).to_be_visible()
    _save(page, "2-launch-backfill-dialog")
    dialog.get_by_role("button", name="Launch backfill").click()
    toast = page.get_by_text(re.compile(r"^Created backfill \w+$"))
    expect(toast).to_be_visible()
    backfill_id = toast.inner_text().split()[-1]
    print(f"backfill {backfill_id} launched from the UI")
    return backfill_id


def _wait_for_backfill(base: str, backfill_id: str, t0: float) -> list[dict]:
    deadline = time.monotonic() + BACKFILL_TIMEOUT
    while True:
        backfill = graphql(base, BACKFILL, {"id": backfill_id})["partitionBackfillOrError"]
        assert backfill["__typename"] == "PartitionBackfill", backfill
        if backfill["status"] in DONE:
            break
        assert time.monotonic() < deadline, (
            f"backfill {backfill_id} still {backfill['status']} after {BACKFILL_TIMEOUT} s: "
            f"{[(r['runId'][:8], r['status']) for r in backfill['runs']]}")
        time.sleep(3)
    runs = backfill["runs"]
    print(f"backfill {backfill['status']} at {time.monotonic() - t0:.0f} s; runs (id, status, "
          "assets, seconds): " + ", ".join(
              f"{r['runId'][:8]} {r['status']} {len(r['assetSelection'])} "
              f"{(r['endTime'] or 0) - (r['startTime'] or 0):.0f}" for r in reversed(runs)))
    failed = [r for r in runs if r["status"] != "SUCCESS"]
    assert backfill["status"] == "COMPLETED_SUCCESS" and runs and not failed, (
        backfill["status"], [_failure_summary(base, r["runId"]) for r in failed])
    assert backfill["isAssetBackfill"]

    # The raw assets ran once for both dates: one run over the partition range.
    raw_runs = [r for r in runs if any(a["path"][0] == RAW_PREFIX for a in r["assetSelection"])]
    assert len(raw_runs) == 1, [r["runId"] for r in raw_runs]
    tags = {t["key"]: t["value"] for t in raw_runs[0]["tags"]}
    assert (tags.get("dagster/asset_partition_range_start"),
            tags.get("dagster/asset_partition_range_end")) == (DATES[0], DATES[-1]), tags

    # Nothing else ran (the sensor was off): every run of the instance that writes is the backfill's.
    every = graphql(base, ALL_RUNS)["runsOrError"]["results"]
    assert {r["runId"] for r in every if r["jobName"] != AUDIT_JOB} == {r["runId"] for r in runs}

    # The warehouse was published once, by one of the backfill's runs, for both dates.
    latest = graphql(base, LATEST_MATERIALIZATION, {"key": {"path": PUBLISH}})["assetOrError"]
    assert latest["assetMaterializations"], "publish/warehouse was not materialized"
    publisher = latest["assetMaterializations"][0]["runId"]
    assert publisher in {r["runId"] for r in runs}
    with psycopg.connect(os.environ["HUILIU_DATABASE_URL"]) as conn:
        loaded = dict(conn.execute(
            "SELECT batch_date, count(*) FROM governance.batch_files WHERE status = 'loaded' "
            "GROUP BY 1").fetchall())
        log = conn.execute("SELECT run_id, batch_dates FROM governance.publish_log").fetchall()
    assert sorted(loaded) == [dt.date.fromisoformat(d) for d in DATES] and min(loaded.values()) > 0
    assert [(r[0], sorted(r[1])) for r in log] == [
        (publisher, [dt.date.fromisoformat(d) for d in DATES])]
    return runs


def _failure_summary(base: str, run_id: str) -> list[str]:
    events = graphql(base, FAILURES, {"id": run_id})["logsForRun"].get("events", [])
    out = []
    for e in events:
        if e["__typename"] == "ExecutionStepFailureEvent":
            out.append(f"{e['stepKey']}: {e['error']['message'][:500]}")
        elif e["__typename"] == "RunFailureEvent":
            out.append(e["message"][:500])
    return out


def _check_backfill_page(page: Page, base: str, backfill_id: str) -> None:
    page.goto(f"{base}/runs/b/{backfill_id}")
    expect(page.get_by_text(f"{DATES[0]}...{DATES[-1]}", exact=True)).to_be_visible()
    expect(page.get_by_text("Succeeded", exact=True).first).to_be_visible()
    _save(page, "3-backfill-succeeded")
    page.get_by_role("tab", name="Runs").click()
    expect(page.get_by_text("Success", exact=True).first).to_be_visible()
    _save(page, "4-backfill-runs")


def _check_pools(page: Page, base: str) -> None:
    """The instance's pools (dagster.yaml `concurrency`), as Deployment → Concurrency shows them."""
    page.goto(f"{base}/deployment/concurrency")
    expect(page.get_by_text(WAREHOUSE_POOL, exact=True)).to_be_visible()


def _check_plots_and_tables(page: Page, base: str) -> None:
    """A dataset's rows per batch date and a tier's rows per dataset are numbers the asset pages plot;
    the kept-aside reasons and the gates are tables."""
    key = {"path": [RAW_PREFIX, "household_registration"]}
    observed = graphql(base, OBSERVATIONS, {"key": key})["assetOrError"]["assetObservations"]
    numbers = {(o["partition"], e["label"]): e.get("intValue") for o in observed for e in o["metadataEntries"]
               if e["__typename"] == "IntMetadataEntry"}
    assert {p for p, _ in numbers} == set(DATES), numbers
    for day in DATES:
        received, loaded, kept = (numbers[(day, label)] for label in PLOTTED)
        assert received == loaded + kept and loaded > 0 and kept > 0  # the generator plants faulty rows
    _show_plots(page, f"{base}/assets/{RAW_PREFIX}/household_registration", PLOTTED, by_event=True)
    _save(page, "6-raw-dataset-plots")

    village = graphql(base, LATEST_RUN, {"key": {"path": ["tiers", "village"]}})["assetOrError"]
    kinds = {e["label"]: e["__typename"] for e in village["assetMaterializations"][0]["metadataEntries"]}
    assert kinds["rows published · person_ledger"] == "IntMetadataEntry", kinds
    assert kinds["rows by dataset"] == "TableMetadataEntry", kinds
    _show_plots(page, f"{base}/assets/tiers/village", ["rows published", "rows published · person_ledger"])
    _save(page, "7-village-tier-plots")

    page.goto(f"{base}/assets/governance/batch_file_accounts")
    reasons = page.get_by_role("row").filter(has_text="duplicate_key")  # the kept-aside reasons table
    expect(reasons.first).to_be_visible()
    _save(page, "8-kept-aside-reasons-table")


def _show_plots(page: Page, url: str, labels: Sequence[str], *, by_event: bool = False) -> None:
    """The asset page's metadata switched from its table to its plots: one plot per label. A partitioned
    asset plots its observations on the events axis (the partitions axis shows materializations)."""
    page.goto(url)
    page.get_by_role("button", name=re.compile(r"Plots$")).click()
    if by_event:
        page.get_by_role("button", name=re.compile(r"Events$")).click()
    expect(page.get_by_text("No numeric metadata entries available to be graphed.")).to_have_count(0)
    for label in labels:
        expect(page.get_by_text(label, exact=True).first).to_be_visible()


def _publish_refused(page: Page, base: str) -> dict:
    """Materialize the publish from its asset page with the town tier corrupted: the run fails, nothing
    is published, and the town tier's check shows which expectation failed on which relation."""
    with psycopg.connect(os.environ["HUILIU_DATABASE_URL"], autocommit=True) as conn, \
            town_tier_corrupted(conn):
        published = conn.execute("SELECT count(*) FROM governance.publish_log").fetchone()[0]
        page.goto(f"{base}/assets/{'/'.join(PUBLISH)}")
        before = {r["runId"] for r in graphql(base, RUNS_OF_ASSET)["runsOrError"]["results"]}
        page.get_by_role("button", name=re.compile(r"^(materialization )?Materialize$")).click()
        together = page.get_by_role("dialog").filter(has_text="Additional assets will be materialized")
        together.get_by_role("button", name="Confirm").click()  # the tiers are built in the same step
        deadline = time.monotonic() + BACKFILL_TIMEOUT
        while True:
            launched = [r for r in graphql(base, RUNS_OF_ASSET)["runsOrError"]["results"]
                        if r["runId"] not in before and {"path": PUBLISH} in (r["assetSelection"] or [])]
            if launched and launched[0]["status"] in {"SUCCESS", "FAILURE", "CANCELED"}:
                latest = launched[0]
                break
            assert time.monotonic() < deadline, launched
            time.sleep(3)
        assert latest["status"] == "FAILURE", latest
        assert not conn.execute("SELECT armed FROM gates_fault.armed").fetchone()[0]  # the fault fired
        assert conn.execute("SELECT count(*) FROM governance.publish_log").fetchone()[0] == published
    page.goto(f"{base}/assets/tiers/town?view=checks&checkDetail=quality_gates")
    failure = page.get_by_role("row").filter(has_text="expect_column_values_to_be_unique(id_number_token)")
    expect(failure.first).to_be_visible()
    assert PLANTED_ID not in page.content()
    _save(page, "9-town-check-failures-table")
    return latest


def _check_runs_listed(page: Page, base: str, backfill_id: str, runs: list[dict]) -> None:
    page.goto(f"{base}/runs")
    expect(page.get_by_role("link", name=backfill_id)).to_be_visible()
    show = page.get_by_label("Show runs within backfills")
    if not show.is_checked():
        page.get_by_text("Show runs within backfills", exact=True).click()
    for run in runs:
        expect(page.get_by_role("link", name=run["runId"][:8])).to_be_visible()
    _save(page, "5-runs-after-restart")
