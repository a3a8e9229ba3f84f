"""Where one hot-path heartbeat's time goes (issue 4): the heartbeats of N learners answered in this process by
the production WSGI application (`config.wsgi.application`, no HTTP server, no load generator), on PostgreSQL.

Reports, per heartbeat, the CPU this process used (the Python side of the server) and the CPU the PostgreSQL
backend serving it used (read from /proc), and the wall time; `--profile` prints the top of a cProfile of the
beats. The load is honest and spread like the real one: each round beats every learner once, so a learner's beats
are a round apart (with `--learners` big enough for a round to last longer than a third of the interval).

    .venv/bin/python bench/heartbeat_profile.py --learners 2000 --rounds 3
    .venv/bin/python bench/heartbeat_profile.py --learners 2000 --rounds 2 --profile

Creates and drops the database `safetrain_bench_profile` on the machine's PostgreSQL.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]
import heartbeats as hb  # noqa: E402  (the benchmark's database set-up)

hb.DB = "safetrain_bench_profile"


def child(args: argparse.Namespace, setup: dict) -> dict:
    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from config.wsgi import application
    from safetrain.accounts.models import AuthSession
    from safetrain.core.crypto import token_digest
    from safetrain.learning.crediting import study_session_open

    AuthSession.objects.update(last_seen_at=timezone.now())
    # a page's heartbeat key goes with the sign-in that opened it: every beat carries that sign-in's token too
    tokens = {token_digest(token): token for token in setup["tokens"]}
    pages = []
    for signin in AuthSession.objects.select_related("user").order_by("pk"):

        class Request:
            META = {"REMOTE_ADDR": "127.0.0.1", "HTTP_USER_AGENT": "bench"}
            auth_session = signin

        session = study_session_open(learner=signin.user, lesson_id=setup["lesson"], request=Request)
        pages.append([session.pk, session.heartbeat_key, 0, time.monotonic(), tokens[signin.key_digest]])
    connection.close()

    reasons: dict[str, int] = {}

    def beat(page: list) -> None:
        sid, key, seq, _opened, token = page
        page[2] = seq = seq + 1
        body = json.dumps(
            {
                "seq": seq,
                # as the benchmark's client: an interval of video a beat, the beats at least an interval apart
                "position": seq * args.interval,
                "playing": True,
                "visible": True,
                "focused": True,
                "rate": 1,
            }
        ).encode()
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": f"/api/v1/study-sessions/{sid}/heartbeats",
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": "application/json",
            "HTTP_X_STUDY_KEY": key,
            "HTTP_AUTHORIZATION": f"Bearer {token}",
            "HTTP_HOST": "127.0.0.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_USER_AGENT": "bench",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
        }
        replies = []
        chunk = b"".join(application(environ, lambda status, headers: replies.append((status, headers))))
        status, headers = replies[0]
        timing = dict(headers).get("Server-Timing", "")
        if status != "200 OK" or "dur=" not in timing:
            raise SystemExit(f"not answered by the hot path: {status} {chunk!r}")
        for reason in json.loads(chunk)["reasons"] or ["clean"]:
            reasons[reason] = reasons.get(reason, 0) + 1

    time.sleep(args.interval)  # the first beat comes an interval after the page opened
    if args.show_sql:
        # what a beat sends, as the hot path's transaction sends it (core.hotpath.db: on PostgreSQL, BEGIN and the
        # read in one round trip, the writes and the COMMIT in a second)
        from safetrain.core.hotpath.db import HotTransaction

        methods = {
            name: getattr(HotTransaction, name) for name in ("__enter__", "fetch_one", "execute", "commit")
        }

        def show(text: str) -> None:
            print(text, file=sys.stderr)  # noqa: T201

        def entered(tx):
            show("BEGIN;")
            return methods["__enter__"](tx)

        def fetched(tx, sql, params):
            show(f"{sql};  -- {list(params)!r}")
            return methods["fetch_one"](tx, sql, params)

        def executed(tx, statement):
            show(f"{statement[0]};  -- {list(statement[2])!r}")
            return methods["execute"](tx, statement)

        def committed(tx):
            show("COMMIT;")
            return methods["commit"](tx)

        replacements = {"__enter__": entered, "fetch_one": fetched, "execute": executed, "commit": committed}
        for name, method in replacements.items():
            setattr(HotTransaction, name, method)
        beat(pages[0])
        for name, method in methods.items():
            setattr(HotTransaction, name, method)
        time.sleep(args.interval)  # (a beat sooner is flagged as too fast, which only the full stack records)
    beat(pages[0])  # opens the database connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
    if args.instructions:
        # valgrind's instrumentation on for the heartbeats only (the set-up above ran uninstrumented)
        subprocess.run(["callgrind_control", "--instr=on", str(os.getpid())], check=True, capture_output=True)
    # Python's garbage collector during the beats: its passes stop every thread of the worker
    import gc

    passes: list[tuple[int, float]] = []
    gc_started = [0.0]

    def collecting(phase: str, info: dict) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            passes.append((info["generation"], (time.perf_counter() - gc_started[0]) * 1000))

    rounds = []
    for _round in range(args.rounds):
        passes.clear()
        gc.callbacks.append(collecting)
        started_round = time.monotonic()
        usage, pg, wall = (
            resource.getrusage(resource.RUSAGE_SELF),
            hb.process_cpu(backend),
            time.perf_counter(),
        )
        if profiler:
            profiler.enable()
        for page in pages[1:] if _round == 0 else pages:
            beat(page)
        if profiler:
            profiler.disable()
        gc.callbacks.remove(collecting)
        n = len(pages) - (1 if _round == 0 else 0)
        after = resource.getrusage(resource.RUSAGE_SELF)
        user, system = after.ru_utime - usage.ru_utime, after.ru_stime - usage.ru_stime
        rounds.append(
            {
                "server_cpu_ms": (user + system) * 1000 / n,
                "server_system_ms": system * 1000 / n,
                "postgres_cpu_ms": (hb.process_cpu(backend) - pg) * 1000 / n,
                "wall_ms": (time.perf_counter() - wall) * 1000 / n,
                "gc_ms": sum(ms for _g, ms in passes) / n,
                "gc_passes_by_generation": [sum(1 for g, _ms in passes if g == k) for k in range(3)],
                "gc_longest_ms": round(max((ms for _g, ms in passes), default=0.0), 2),
            }
        )
        # a learner's next beat no sooner than the interval (an honest player)
        time.sleep(max(0.0, args.interval - (time.monotonic() - started_round)))
    if args.instructions:
        subprocess.run(
            ["callgrind_control", "--instr=off", str(os.getpid())], check=True, capture_output=True
        )
    if profiler:
        import pstats

        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(45)
        print(out.getvalue(), file=sys.stderr)  # noqa: T201
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
        print(out.getvalue(), file=sys.stderr)  # noqa: T201
        if args.callers:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_callers(args.callers)
            print(out.getvalue(), file=sys.stderr)  # noqa: T201
        if args.callees:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_callees(args.callees)
            print(out.getvalue(), file=sys.stderr)  # noqa: T201
    from django.db.models import Count

    from safetrain.learning.models import SuspiciousEvent

    flagged = dict(SuspiciousEvent.objects.values_list("kind").annotate(n=Count("id")).order_by())
    return {
        "learners": len(pages),
        "suspicious_events": flagged,  # an honest load flags nothing
        "reasons": reasons,  # of the replies: an honest load is all "clean"
        "rounds": rounds,
        "median": {
            key: round(statistics.median(r[key] for r in rounds), 3)
            for key in rounds[0]
            if key != "gc_passes_by_generation"
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--learners", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--interval", type=int, default=2)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--callers", help="with --profile: who calls the functions matching this")
    parser.add_argument("--callees", help="with --profile: what the functions matching this call")
    parser.add_argument("--keep", action="store_true", help="keep the database (for pgbench scripts)")
    parser.add_argument("--show-sql", action="store_true", help="print the SQL one heartbeat sends")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count the server's CPU instructions per heartbeat with valgrind (repeatable on a noisy machine)",
    )
    parser.add_argument("--database-socket", metavar="DIR", help="PostgreSQL over its Unix socket in DIR")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args, json.loads(Path(args.child).read_text()))))  # noqa: T201
        return 0
    env = hb.env_for(args.interval, args.database_socket)
    setup = hb.fresh_database(env, hb.SETUP.replace("sys.argv[1]", str(args.learners)))
    path = hb.ROOT / "var" / "heartbeat_profile_setup.json"
    path.write_text(json.dumps({"lesson": setup["lesson"], "tokens": setup["tokens"]}))
    try:
        command = [hb.PY, __file__, "--child", str(path), *sys.argv[1:]]
        counts = hb.ROOT / "var" / "heartbeat_profile.callgrind"
        if args.instructions:
            command = [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={counts}",
                *command,
            ]
        out = subprocess.run(command, cwd=hb.ROOT, env=env, stdout=subprocess.PIPE, text=True, check=True)
        report = json.loads(out.stdout.strip().splitlines()[-1])
        if args.instructions:
            summary = next(
                line for line in counts.read_text(errors="replace").splitlines() if line.startswith("totals:")
            )
            beats = sum(report["reasons"].values())
            report["instructions_per_heartbeat"] = round(int(summary.split()[1]) / beats)
            counts.unlink() if not args.keep else None
        print(json.dumps(report, indent=1))  # noqa: T201 - the report is the output
    finally:
        path.unlink(missing_ok=True)
        if not args.keep:
            hb.run(["psql", f"{hb.PG}/postgres", "-qc", f"DROP DATABASE IF EXISTS {hb.DB}"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
