"""`huiliu`: the operators' command line (contracts/warehouse.md)."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipelines.run_report import RunReport

# warehouse.md: 0 published in full, 1 nothing published, 2 published but something held back
EXIT_OK, EXIT_NOTHING_PUBLISHED, EXIT_SOME_HELD_BACK = 0, 1, 2
EXIT_REFUSED = 1  # `huiliu report`: the unit may not have that form (the reason on stderr)


def batch_date_arg(text: str) -> dt.date:
    """argparse type for YYYY-MM-DD (shared by `huiliu generate` and `huiliu run`)."""
    from pipelines.clock import parse_date

    try:
        return parse_date(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def cmd_db_url(_: argparse.Namespace) -> int:
    from pipelines.warehouse import database_url

    print(database_url())
    return EXIT_OK


def cmd_db_stop(_: argparse.Namespace) -> int:
    import os

    from pipelines.localdb import stop_local_server

    if os.environ.get("HUILIU_DATABASE_URL"):
        print("HUILIU_DATABASE_URL is set: huiliu does not manage that server", file=sys.stderr)
        return EXIT_OK
    print("stopped" if stop_local_server() else "the local PostgreSQL was not running")
    return EXIT_OK


def cmd_generate(args: argparse.Namespace) -> int:
    from huiliu_dev.generate import run_from_args  # developer tooling: imported only for this command

    return run_from_args(args)


def _followed(run: Callable[[str], RunReport], what: str) -> RunReport:
    """Run `run(run_id)` with its progress on stderr (live on a terminal, plain lines elsewhere) and
    dbt's and Dagster's own output in `.huiliu/logs/<run_id>/run.log`."""
    from pipelines.follow import display_for
    from pipelines.paths import STATE_DIR
    from pipelines.progress import listening
    from pipelines.runner import new_run_id

    run_id = new_run_id()
    log = STATE_DIR / "logs" / run_id / "run.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    terminal = sys.stderr
    print(f"{what} run_id={run_id}; dbt's and Dagster's log: {_shown(log)}", file=terminal, flush=True)
    display = display_for(terminal)
    with open(log, "w", encoding="utf-8") as out, listening(display), \
            contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            report = run(run_id)
        finally:
            display.close()
    report.log = _shown(log)
    report.gate_report = _shown(report.gate_report) if report.gate_report is not None else None
    with contextlib.suppress(Exception):  # the hint names a village of this county
        from pipelines.topology import load_topology

        villages = load_topology().villages
        report.try_village = villages[0].schema if villages else None
    return report


def _shown(path: Path) -> Path:
    """A path as the operator would type it: relative to the working directory when under it."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def _report_outcome(report: RunReport, as_json: bool) -> int:
    print(report.as_json() if as_json else report.render())
    for line in report.rejections:
        print(line, file=sys.stderr)
    if report.exit_code == EXIT_NOTHING_PUBLISHED:
        print(f"nothing published: {report.failure or 'the run published no version'}", file=sys.stderr)
        for table in report.failure_details:
            print(table, file=sys.stderr)
        return EXIT_NOTHING_PUBLISHED
    for dataset, hold in report.held.items():
        print(f"held: {dataset}: {hold['reason']}", file=sys.stderr)
    if report.exit_code == EXIT_SOME_HELD_BACK:
        print(f"published version_{report.version:06d}, but not everything: exit 2", file=sys.stderr)
    return report.exit_code


def cmd_run(args: argparse.Namespace) -> int:
    from pipelines.govern.audit import status
    from pipelines.runner import run_batch_date
    from pipelines.warehouse import connect

    with connect() as conn:
        audit = status(conn)
    if not audit.on:  # said at start-up, and again in the summary
        print(f"warning: {audit.why}", file=sys.stderr)
    def run(run_id: str) -> RunReport:
        return run_batch_date(Path(args.landing), args.date, accept_drop=args.accept_drop, run_id=run_id)

    report = _followed(run, f"huiliu run {args.date}")
    return _report_outcome(report, args.json)


def cmd_rotate_key(_: argparse.Namespace) -> int:
    import os

    from pipelines.govern import token_key as tk
    from pipelines.runner import rebuild
    from pipelines.warehouse import connect

    with connect() as conn:
        old = tk.installed_fingerprint(conn)
        if os.environ.get(tk.KEY_VARIABLE) or os.environ.get("HUILIU_DATABASE_URL"):
            key = tk.token_key()  # the operator's new key
        else:
            key = tk.new_demo_key()  # the local demo: a fresh key file, the old one kept beside it
        if old == tk.fingerprint(key):
            print(f"the warehouse already uses key {old}: set {tk.KEY_VARIABLE} to the new key first",
                  file=sys.stderr)
            return EXIT_NOTHING_PUBLISHED
        new = tk.install_key(conn, key, rotate=True)
    print(f"token key {old or '(none)'} → {new}, recorded in governance.key_rotations; re-keying every token",
          file=sys.stderr)
    report = _followed(lambda run_id: rebuild(run_id=run_id), "huiliu rotate-key")
    print(report.render())
    if report.failure:
        print(f"nothing published: {report.failure} (the new key is installed: the next publish re-keys)",
              file=sys.stderr)
        return EXIT_NOTHING_PUBLISHED
    return EXIT_OK


def _names(text: str | None) -> list[str] | None:
    """'a,b' → ['a', 'b'] (each name is validated where it is used)."""
    return None if text is None else [n.strip() for n in text.split(",") if n.strip()]


def cmd_report(args: argparse.Namespace) -> int:
    # only what a form needs: the whole command in about a second (no Dagster, dbt or pandas)
    from pipelines.access.errors import Refused
    from pipelines.forms.report import list_templates, run_report

    try:
        if args.list:
            if args.out or args.tags or args.columns:
                raise Refused("--list takes --unit only")
            for a in list_templates(args.unit):
                print(f"{a.code}\t{a.title}" + (f"\tnot available: {a.why_not}" if a.why_not else ""))
            return EXIT_OK
        if not args.out:
            raise Refused("--out FILE.xlsx|.csv is required")
        result = run_report(args.unit, Path(args.out), template_code=args.template, ledger=args.ledger,
                            tags=_names(args.tags) or (), columns=_names(args.columns))
    except Refused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    print(result.render())
    return EXIT_OK


def cmd_ack(args: argparse.Namespace) -> int:
    from pipelines.publish.warnings import AckError, acknowledge
    from pipelines.topology import load_topology
    from pipelines.warehouse import connect

    try:
        with connect(autocommit=True) as conn:
            done = acknowledge(conn, load_topology(), args.warning_id, args.unit, args.by, args.note)
    except AckError as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    print(f"acknowledged {done['warning_id']} ({done['rule']}, {done['status']}) for {done['unit']} "
          f"(governance.collision_acknowledgements #{done['ack_id']}); it leaves collision_warnings at "
          "the next run while its evidence stands")
    return EXIT_OK


def cmd_sql(args: argparse.Namespace) -> int:
    from pipelines.access.errors import Refused
    from pipelines.access.sql import session
    from pipelines.warehouse import database_url

    try:
        return session(database_url(), args.unit, args.command).code
    except Refused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return EXIT_REFUSED


def cmd_access(args: argparse.Namespace) -> int:
    from pipelines.access import applications, logins
    from pipelines.access.errors import Refused
    from pipelines.tables import markdown
    from pipelines.topology import load_topology
    from pipelines.warehouse import database_url

    url = database_url()
    try:
        with connect_autocommit(url) as conn:
            if args.access == "login" and args.action == "add":
                added = logins.add_login(conn, args.name, args.unit)
                print(f"login {added.login} reads {added.unit} only (governance.access_log)")
                if added.password:
                    print(f"password (shown once, not stored): {added.password}")
            elif args.access == "login" and args.action == "remove":
                unit = logins.remove_login(conn, args.name)
                print(f"login {args.name} removed (it read {unit}); its open sessions were ended")
            elif args.access == "login":
                print(markdown(["login", "unit", "created at", "created by"], logins.list_logins(conn)))
            elif args.action == "request":
                app_id = applications.request(conn, load_topology(), args.unit, args.dataset, args.level,
                                              args.reason)
                print(f"application #{app_id}: {args.unit} asks for {args.dataset} ({args.level}); "
                      f"approve with: huiliu access grant approve {app_id} --by NAME --approval REF "
                      "--expires YYYY-MM-DD")
            elif args.action in ("approve", "revoke"):
                if args.action == "approve":
                    done = applications.approve(conn, url, load_topology(), args.id, by=args.by,
                                                approval=args.approval, expires=args.expires)
                else:
                    done = applications.revoke(conn, url, load_topology(), args.id, by=args.by)
                print(f"application #{args.id} {args.action}d; views changed now: "
                      f"{', '.join(done.changed) or 'none'}")
                if done.pending:
                    print("from the next publish (nothing published serves them yet): "
                          + ", ".join(done.pending))
            else:
                rows = [(x.origin, x.unit, x.dataset, x.level, x.status, x.approval, x.expires or "",
                         "yes" if x.in_force else "no")
                        for x in applications.listing(conn, load_topology(), args.unit)]
                print(markdown(["grant", "unit", "dataset", "level", "status", "approval", "last day",
                                "in force"], rows))
    except Refused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    return EXIT_OK


def cmd_topology(args: argparse.Namespace) -> int:
    from pipelines.divisions import DivisionsError, from_divisions
    from pipelines.topology import DEFAULT_PATH, TopologyError, load_topology

    if args.action == "from-divisions":
        try:
            text = from_divisions(Path(args.file), args.county, args.name,
                                  Path(args.departments) if args.departments else None)
        except (DivisionsError, TopologyError) as exc:
            print(f"refused: {exc}", file=sys.stderr)
            return EXIT_REFUSED
        if args.out:
            Path(args.out).write_text(text, encoding="utf-8")
            print(f"wrote {args.out}; check it with: huiliu topology check {args.out}", file=sys.stderr)
        else:
            sys.stdout.write(text)
        return EXIT_OK
    import os

    path = args.file or os.environ.get("HUILIU_PARTITIONS") or str(DEFAULT_PATH)
    try:
        t = load_topology(path)
    except (TopologyError, OSError) as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    print(f"{path}: county {t.county_code} {t.county_name}: {len(t.departments)} departments, "
          f"{len(t.towns)} towns, {len(t.villages)} villages, {len(t.grants)} grants — valid")
    return EXIT_OK


def connect_autocommit(url: str):  # noqa: ANN201 - a psycopg connection
    import psycopg

    return psycopg.connect(url, autocommit=True)


def _absent(message: str) -> int:
    print(message, file=sys.stderr)
    return EXIT_NOTHING_PUBLISHED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="huiliu", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write a realistic province and city batch")
    try:  # developer tooling (huiliu_dev): present in a clone, may be absent where a county deploys
        from huiliu_dev.generate import add_arguments
    except ImportError:
        gen.set_defaults(func=lambda _a: _absent("huiliu generate needs huiliu_dev (the developer tooling)"))
    else:
        add_arguments(gen)
        gen.set_defaults(func=cmd_generate)

    run = sub.add_parser("run", help="ingest, transform, gate and publish one batch date")
    run.add_argument("--landing", required=True, help="landing directory")
    run.add_argument("--date", required=True, type=batch_date_arg, help="batch date YYYY-MM-DD")
    run.add_argument("--accept-drop", action="append", default=[], metavar="DATASET",
                     help="publish DATASET although it has far fewer rows than published (recorded in "
                     "governance.accepted_drops); repeatable")
    run.add_argument("--json", action="store_true",
                     help="print one machine-readable summary instead of the table")
    run.set_defaults(func=cmd_run)

    rep = sub.add_parser("report", help="write a unit's form (基层一张表) as that unit's role sees it")
    rep.add_argument("--unit", required=True, metavar="SCHEMA", help="the unit (its schema, e.g. village_…)")
    what = rep.add_mutually_exclusive_group(required=True)
    what.add_argument("--template", metavar="CODE", help="a template of reports/*.yaml")
    what.add_argument("--ledger", metavar="NAME", help="a custom form of person_ledger or enterprise_ledger")
    what.add_argument("--list", action="store_true", help="list the templates the unit may run")
    rep.add_argument("--tags", metavar="T,…", help="with --ledger: rows carrying every one of these tags")
    rep.add_argument("--columns", metavar="C,…", help="with --ledger: these columns, in order")
    rep.add_argument("--out", metavar="FILE", help="FILE.xlsx or FILE.csv")
    rep.set_defaults(func=cmd_report)

    ack = sub.add_parser("ack", help="acknowledge a warning on behalf of a unit it is routed to")
    ack.add_argument("warning_id", metavar="WARNING_ID", help="collision_warnings.warning_id, e.g. W00000042")
    ack.add_argument("--unit", required=True, metavar="SCHEMA", help="the unit acknowledging it (its schema)")
    ack.add_argument("--by", required=True, metavar="NAME", help="who acknowledges it")
    ack.add_argument("--note", metavar="TEXT", help="what was done")
    ack.set_defaults(func=cmd_ack)

    q = sub.add_parser("sql", help="a SQL session as one unit sees the warehouse (psql, or -c QUERY)")
    q.add_argument("--unit", required=True, metavar="SCHEMA", help="the unit (its schema, e.g. village_…)")
    q.add_argument("-c", dest="command", metavar="QUERY", help="run one statement and print its rows")
    q.set_defaults(func=cmd_sql)

    acc = sub.add_parser("access", help="analysts' logins and permission applications (权限申请)")
    what_access = acc.add_subparsers(dest="access", required=True)
    lg = what_access.add_parser("login", help="an analyst's LOGIN role, a member of one unit's role")
    lg_do = lg.add_subparsers(dest="action", required=True)
    la = lg_do.add_parser("add", help="create it (password from HUILIU_LOGIN_PASSWORD, or shown once)")
    la.add_argument("name", metavar="NAME")
    la.add_argument("--unit", required=True, metavar="SCHEMA")
    lg_do.add_parser("remove", help="drop it; its open sessions end").add_argument("name", metavar="NAME")
    lg_do.add_parser("list", help="the logins in use and their units")
    gr = what_access.add_parser("grant", help="permission applications beside partitions.yaml's grants")
    gr_do = gr.add_subparsers(dest="action", required=True)
    rq = gr_do.add_parser("request", help="apply for a dataset at a level")
    rq.add_argument("--unit", required=True, metavar="SCHEMA")
    rq.add_argument("--dataset", required=True)
    rq.add_argument("--level", required=True, choices=["granted", "clear_names"])
    rq.add_argument("--reason", required=True, metavar="TEXT")
    ap = gr_do.add_parser("approve", help="approve an application: it applies at once")
    ap.add_argument("id", type=int, metavar="ID")
    ap.add_argument("--by", required=True, metavar="NAME")
    ap.add_argument("--approval", required=True, metavar="REF", help="the approval's reference")
    ap.add_argument("--expires", required=True, type=batch_date_arg, metavar="DATE", help="its last valid day")
    rv = gr_do.add_parser("revoke", help="revoke an application: it stops at once")
    rv.add_argument("id", type=int, metavar="ID")
    rv.add_argument("--by", required=True, metavar="NAME")
    ls = gr_do.add_parser("list", help="partitions.yaml's grants and every application")
    ls.add_argument("--unit", metavar="SCHEMA")
    acc.set_defaults(func=cmd_access)

    topo = sub.add_parser("topology", help="write and validate a county's partitions.yaml")
    topo_do = topo.add_subparsers(dest="action", required=True)
    fd = topo_do.add_parser("from-divisions", help="a partitions.yaml from an NBS-style division list")
    fd.add_argument("file", metavar="FILE.csv", help="code,name,level,parent_code (UTF-8)")
    fd.add_argument("--county", required=True, metavar="CODE", help="the 6-digit county code")
    fd.add_argument("--name", required=True, help="the county's name")
    fd.add_argument("--departments", metavar="FILE",
                    help="a partitions.yaml whose departments and sources to take (default: the current one)")
    fd.add_argument("--out", metavar="FILE", help="write here (default: standard output)")
    ck = topo_do.add_parser("check", help="validate a partitions.yaml (default: HUILIU_PARTITIONS, else the "
                            "project's)")
    ck.add_argument("file", nargs="?", metavar="FILE")
    topo.set_defaults(func=cmd_topology)

    sub.add_parser("rotate-key", help="re-key every token in one publish (HUILIU_TOKEN_KEY holds the new key)"
                   ).set_defaults(func=cmd_rotate_key)
    sub.add_parser("db-url", help="print the warehouse URL (starts the local server)"
                   ).set_defaults(func=cmd_db_url)
    sub.add_parser("db-stop", help="stop the project's local PostgreSQL"
                   ).set_defaults(func=cmd_db_stop)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
