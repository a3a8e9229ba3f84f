"""Regulator statistics benchmark (issue 9, REG-01): the dashboard's queries at scale on PostgreSQL.

    .venv/bin/python bench/dashboard.py --learners 200000 --runs 15

Creates (and drops) the database `safetrain_bench_reg`, migrates it, fills it with `manage.py seed_scale`, then
times `safetrain.regulator.statistics.dashboard` for regulators at every level (province, city, county) and an
operator, without filters and with each kind of filter: wall time per dashboard (p50, p95) and the slowest single
query. The reference in the same run is a plain `SELECT count(*)` over all accounts. Targets 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import json
import os
import secrets
import statistics as st
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG = "postgres://postgres@127.0.0.1:5432"
DB = "safetrain_bench_reg"
PY = str(ROOT / ".venv" / "bin" / "python")

WRITERS = r"""
import json, statistics as st, sys, time
from django.db.models.signals import post_save
from safetrain.accounts.models import Membership, Role, User
from safetrain.catalog.models import Programme
from safetrain.learning.models import Enrolment
from safetrain.learning.services import enrolment_create
from safetrain.orgs.models import Organisation
from safetrain.regulator import signals

WRITER, WRITERS, PER, CUBE = %(writer)d, %(writers)d, %(per)d, %(cube)s
if not CUBE:
    signals.disconnect()
programme = Programme.objects.get(code="scale-p")
units = list(Organisation.objects.filter(name__startswith="规模测试企业").order_by("pk")[%(units)s])
# A list every writer computes the same (whatever the others already wrote): its share, then the ones not enrolled.
everyone = list(
    User.objects.filter(memberships__organisation__in=units, memberships__role=Role.LEARNER)
    .order_by("pk").values_list("pk", flat=True)
)
share = everyone[WRITER::WRITERS]
enrolled = set(Enrolment.objects.filter(learner_id__in=share, programme=programme).values_list("learner_id", flat=True))
mine = [pk for pk in share if pk not in enrolled][:PER]
times = []
for pk in mine:
    learner = User.objects.get(pk=pk)
    t = time.perf_counter()
    enrolment_create(learner=learner, programme=programme, organisation=learner.primary_organisation)
    times.append((time.perf_counter() - t) * 1000)
print(json.dumps({"n": len(times), "times": times}))
"""

TIMING = r"""
import json, statistics as st, time, datetime as dt
from django.db import connection
from django.utils import timezone
from safetrain.accounts.models import Role, User
from safetrain.accounts.services import user_create
from safetrain.accounts.identity import make_resident_id
from safetrain.orgs.models import Organisation, OrganisationKind, Region
from safetrain.orgs.services import organisation_create
from safetrain.regulator.statistics import Filters, dashboard

RUNS = %(runs)d
viewers = {}
for label, code in (("province 440000", "440000"), ("city 440100", "440100"), ("county 440106", "440106")):
    org = organisation_create(name=f"监管{code}", kind=OrganisationKind.REGULATOR, region=Region.objects.get(code=code))
    viewers[label] = user_create(id_number=make_resident_id(code, dt.date(1980, 1, 1), 1), name="监管员",
                                 organisation=org, role=Role.REGULATOR, password="Bench#Pass2026x")
platform = organisation_create(name="平台", kind=OrganisationKind.PLATFORM, region=Region.objects.get(code="440106"))
viewers["operator"] = user_create(id_number=make_resident_id("440106", dt.date(1981, 1, 1), 2), name="运营",
                                  organisation=platform, role=Role.OPERATOR, password="Bench#Pass2026x")
today = timezone.localdate()
scenarios = {
    "no filter": Filters(),
    "last 3 months": Filters(start=(today.replace(day=1) - dt.timedelta(days=40)).replace(day=1)),
    "age 40-49": Filters(age_band="40to49"),
    "industry": Filters(industry="other"),
    "women": Filters(sex="F"),
}
slowest = {"ms": 0.0, "sql": ""}
def wrapper(execute, sql, params, many, context):
    t = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    finally:
        ms = (time.perf_counter() - t) * 1000
        if ms > slowest["ms"]:
            slowest.update(ms=ms, sql=sql[:160])
def reference():
    t = time.perf_counter()
    with connection.cursor() as c:
        c.execute("SELECT count(*) FROM accounts_user")
        c.fetchone()
    return (time.perf_counter() - t) * 1000
out = {"learners": User.objects.count(), "reference_ms": [], "results": []}
with connection.execute_wrapper(wrapper):
    for label, viewer in viewers.items():
        for name, filters in scenarios.items():
            dashboard(viewer, filters)  # warm-up
            times, queries = [], 0
            for _ in range(RUNS):
                out["reference_ms"].append(reference())
                slowest.update(ms=0.0, sql="")
                t = time.perf_counter()
                board = dashboard(viewer, filters)
                times.append((time.perf_counter() - t) * 1000)
            times.sort()
            out["results"].append({
                "viewer": label, "filters": name, "registered": board.registered, "regions": len(board.by_region),
                "p50_ms": round(st.median(times), 1), "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1),
                "slowest_query_ms": round(slowest["ms"], 1), "slowest_query": slowest["sql"],
            })
out["reference_p50_ms"] = round(st.median(out.pop("reference_ms")), 2)
print(json.dumps(out, ensure_ascii=False))
"""


def env() -> dict[str, str]:
    from cryptography.fernet import Fernet

    values = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST_"))}
    values.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "SAFETRAIN_ENV_FILE": "/nonexistent",
            "DATABASE_URL": f"{PG}/{DB}",
            "REDIS_URL": "redis://127.0.0.1:6379/4",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(40),
            "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "BLIND_INDEX_KEY": "bench",
            "AUDIT_CHAIN_KEY": "bench",
            "AUDIT_CHECKPOINT_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
            "ALLOWED_HOSTS": "127.0.0.1",
            "LOG_LEVEL": "WARNING",
            "STATISTICS_DRAIN_SECONDS": "2",
        }
    )
    return values


def stop(process: subprocess.Popen) -> None:
    """Stop a worker: politely, then for good (Celery's warm shutdown can wait on its beat)."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=20)


def say(text: str, flush: bool = False) -> None:
    sys.stdout.write(text + "\n")
    if flush:
        sys.stdout.flush()


def run(cmd: list[str], environment: dict[str, str]) -> str:
    result = subprocess.run(cmd, cwd=ROOT, env=environment, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    return result.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=200_000)
    parser.add_argument("--enterprises", type=int, default=400)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--writers", type=int, default=4, help="concurrent enrolment writers (0: none)")
    parser.add_argument("--per-writer", type=int, default=40)
    args = parser.parse_args()
    environment = env()
    run(["psql", f"{PG}/postgres", "-qc", f"DROP DATABASE IF EXISTS {DB}"], environment)
    run(["psql", f"{PG}/postgres", "-qc", f"CREATE DATABASE {DB}"], environment)
    try:
        started = time.monotonic()
        run([PY, "manage.py", "migrate", "--noinput"], environment)
        say(
            run(
                [
                    PY,
                    "manage.py",
                    "seed_scale",
                    "--learners",
                    str(args.learners),
                    "--enterprises",
                    str(args.enterprises),
                ],
                environment,
            )
            .strip()
            .splitlines()[-1]
        )
        run(["psql", f"{PG}/{DB}", "-qc", "VACUUM ANALYZE"], environment)
        say(f"database ready in {time.monotonic() - started:.0f} s", flush=True)
        say(run([PY, "manage.py", "rebuild_statistics"], environment).strip())
        say(run([PY, "manage.py", "rebuild_statistics", "--check"], environment).strip(), flush=True)
        if args.writers:
            import redis

            redis.Redis.from_url(environment["REDIS_URL"]).flushdb()  # the benchmark's own Redis database
            # As in production: the drain of touched cells is a periodic Celery task (beat), here every 2 s.
            worker = subprocess.Popen(
                [
                    str(ROOT / ".venv" / "bin" / "celery"),
                    "-A",
                    "config",
                    "worker",
                    "--concurrency",
                    "2",
                    "--beat",
                    "--schedule",
                    "/tmp/safetrain-bench-beat-schedule",
                    "--loglevel",
                    "WARNING",
                    "--without-heartbeat",
                    "--without-mingle",
                    "--without-gossip",
                ],
                cwd=ROOT,
                env=environment,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            atexit.register(stop, worker)
            writes = {}
            for cube, units in ((False, "0:3"), (True, "3:6")):
                procs = [
                    subprocess.Popen(
                        [
                            PY,
                            "manage.py",
                            "shell",
                            "-c",
                            WRITERS
                            % {
                                "writer": i,
                                "writers": args.writers,
                                "per": args.per_writer,
                                "cube": cube,
                                "units": units,
                            },
                        ],
                        cwd=ROOT,
                        env=environment,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                        text=True,
                    )
                    for i in range(args.writers)
                ]
                times = []
                for proc in procs:
                    out, err = proc.communicate(timeout=900)
                    if proc.returncode:
                        raise SystemExit(f"writer failed: {err[-3000:]}")
                    times += json.loads(out.strip().splitlines()[-1])["times"]
                times.sort()
                writes[cube] = times
                if not cube:  # the reference writes bypassed the cube: bring it back before the measured ones
                    run([PY, "manage.py", "rebuild_statistics"], environment)
            for cube, times in writes.items():
                label = "with the cube recount" if cube else "reference, cube signals off"
                say(
                    f"{args.writers} concurrent writers, {len(times)} enrolments ({label}): "
                    f"p50 {st.median(times):.1f} ms, p95 {times[int(len(times) * 0.95) - 1]:.1f} ms"
                )
            drained = time.monotonic()
            while time.monotonic() - drained < 120:
                left = run(
                    ["psql", f"{PG}/{DB}", "-tAc", "SELECT count(*) FROM regulator_statdirty"], environment
                )
                if int(left.strip()) == 0:
                    break
                time.sleep(0.2)
            say(f"touched cells all recounted {time.monotonic() - drained:.1f} s after the last write")
            stop(worker)
            say(
                "after the concurrent writers: "
                + run([PY, "manage.py", "rebuild_statistics", "--check"], environment).strip(),
                flush=True,
            )
        output = run([PY, "manage.py", "shell", "-c", TIMING % {"runs": args.runs}], environment)
        data = json.loads(output.strip().splitlines()[-1])
    finally:
        if not args.keep:
            run(["psql", f"{PG}/postgres", "-qc", f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)"], environment)
    say(
        f"learners: {data['learners']}; reference SELECT count(*) of accounts: p50 {data['reference_p50_ms']} ms"
    )
    say("| viewer | filters | registered | regions | p50 ms | p95 ms | slowest query ms |")
    say("| --- | --- | --- | --- | --- | --- | --- |")
    for r in data["results"]:
        say(
            f"| {r['viewer']} | {r['filters']} | {r['registered']} | {r['regions']} | {r['p50_ms']} | {r['p95_ms']} | {r['slowest_query_ms']} |"
        )
    worst = max(data["results"], key=lambda r: r["slowest_query_ms"])
    say(
        f"slowest query overall: {worst['slowest_query_ms']} ms ({worst['viewer']}, {worst['filters']}): {worst['slowest_query']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
