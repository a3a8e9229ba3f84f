"""Exam storm (issues 6 and 28): N candidates start the same exam within a start window, answer every question with
one request per answer, and submit in the last window; against the production server (granian, 2 workers x 2
blocking threads, as deploy/supervisor/web.conf.in), PostgreSQL and Redis. Each candidate holds one keep-alive
connection, as a browser does, and sends the page key the start gave it (`page_key`) with every answer
(`X-Exam-Key`), as the exam page does. Afterwards every answer a candidate was told was saved is compared with the
database, and every score is recomputed from the stored answers (zero lost, zero wrong is the pass condition).

    .venv/bin/python bench/exam_storm.py --candidates 2000 --start-window 60 --answer-window 600 --submit-window 60
    .venv/bin/python bench/exam_storm.py --candidates 2000 --start-window 60 --answer-window 600 --submit-window 60 \
        --busy-neighbour 1
    .venv/bin/python bench/exam_storm.py --candidates 600 --start-window 20 --saturate 60 --submit-window 20

`--saturate SECONDS` replaces the answer window: once the start window is over, every candidate answers its
questions over and over, each answer as soon as the previous one is confirmed, for that long; the report gives the
answers confirmed per second then. `--busy-neighbour N` runs N processes burning a whole core each for the whole
storm. `--server gunicorn` runs gunicorn (4 x 2 gthread by default) instead.

Creates and drops the database `safetrain_bench` on the machine's PostgreSQL; targets 127.0.0.1 only and stops by
itself. Reports requests/s, latency percentiles per kind of request, how many answers the hot path served
(Server-Timing `exam_answer`) and how many the full stack, errors, the CPU each role used, and the pgbench
single-row UPDATE rate of the same run as the reference.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from heartbeats import (  # noqa: E402
    DB,
    PG,
    ROOT,
    RawHttp,
    busy_neighbours,
    cpu_probe,
    env_for,
    fresh_database,
    latency_summary,
    pgbench,
    run,
    run_loop,
    served_by,
    shell_json,
    start_server,
    stop_server,
)

SETUP = r"""
import json, sys, secrets, datetime as dt
from django.contrib.auth.hashers import make_password
from django.db import transaction
from safetrain.accounts.identity import make_resident_id
from safetrain.accounts.models import AuthSession, Membership, User, id_index_of
from safetrain.assessment.demo_bank import seed_demo_bank
from safetrain.assessment.papers import paper_rule_from_preset
from safetrain.catalog.models import RegionProfile
from safetrain.catalog.services import course_create, course_publish, chapter_add, lesson_add, programme_course_add, programme_create, programme_publish
from safetrain.catalog.models import Video
from safetrain.core.crypto import token_digest
from safetrain.learning.models import Enrolment
from safetrain.orgs.models import Region
from safetrain.orgs.services import organisation_create
n = int(sys.argv[1])
with transaction.atomic():
    org = organisation_create(name="考试压测企业", kind="enterprise", region=Region.objects.get(code="120101"))
    video = Video.objects.create(title="bench", original="x.mp4", status="ready", duration_seconds=60, hls_prefix="x")
    course = course_create(code="EXAM-BENCH", title="压测课程")
    lesson_add(chapter=chapter_add(course=course, title="章"), title="节", video=video)
    course_publish(course=course)
    programme = programme_create(code="exam-bench", name="考试压测", profile=RegionProfile.objects.get(code="tianjin_ce"),
                                 kind="continuing", audience="other", required_minutes=0, min_study_days=0)
    programme_course_add(programme=programme, course=course)
    programme_publish(programme=programme)
    seed_demo_bank(programme)
    paper_rule_from_preset(programme=programme)
    password = make_password("Bench#2026")
    users = []
    for i in range(n):
        number = make_resident_id("120101", dt.date(1975, 1, 1) + dt.timedelta(days=i // 900), i % 900 + 100)
        users.append(User(id_number=number, id_index=id_index_of(number), name=f"考生{i}", password=password, primary_organisation=org))
    User.objects.bulk_create(users, batch_size=500)
    users = list(User.objects.filter(primary_organisation=org).order_by("pk"))
    Membership.objects.bulk_create([Membership(user=u, organisation=org, role="learner") for u in users])
    Enrolment.objects.bulk_create([Enrolment(learner=u, programme=programme, organisation=org, opened_on=dt.date.today()) for u in users])
    tokens = [secrets.token_urlsafe(24) for _ in users]
    AuthSession.objects.bulk_create([AuthSession(user=u, kind="api", key_digest=token_digest(t)) for u, t in zip(users, tokens)])
print(json.dumps({"programme": programme.code, "tokens": tokens}))
"""

# The file it reads: {attempt: {question: {"acknowledged": positions or null, "unanswered_after": [positions...]}}},
# positions as shown; "unanswered_after": values sent after the last acknowledged one that got no 200 (each may or
# may not have been stored).
CHECK = r"""
import json, sys
from decimal import Decimal
from safetrain.assessment.exams import is_correct
from safetrain.assessment.models import ExamAnswer, ExamAttempt
sent = json.load(open(sys.argv[1]))
lost = wrong_value = wrong_score = unsubmitted = 0
def original(item, positions):
    return sorted(positions) if item["kind"] == "fill" else sorted(item["order"][p] for p in positions)
for attempt in ExamAttempt.objects.prefetch_related("answers"):
    items = {i["question"]: i for i in attempt.items}
    stored = {a.question_id: a for a in attempt.answers.all()}
    for qid, history in sent.get(str(attempt.pk), {}).items():
        if history["acknowledged"] is None:
            continue
        answer = stored.get(int(qid))
        if answer is None:
            lost += 1
            continue
        item = items[int(qid)]
        allowed = [original(item, v) for v in [history["acknowledged"], *history["unanswered_after"]]]
        if sorted(answer.value) not in allowed:
            wrong_value += 1
    if attempt.submitted_at is None:
        unsubmitted += 1
        continue
    score = sum((Decimal(items[a.question_id]["score"]) for a in stored.values()
                 if is_correct(items[a.question_id]["kind"], items[a.question_id]["answer"], a.value)), Decimal(0))
    if score != attempt.score:
        wrong_score += 1
print(json.dumps({"attempts": ExamAttempt.objects.count(), "answers_stored": ExamAnswer.objects.count(),
                  "confirmed_answers": sum(1 for a in sent.values() for h in a.values() if h["acknowledged"] is not None),
                  "lost": lost, "wrong_value": wrong_value, "wrong_score": wrong_score, "unsubmitted": unsubmitted}))
"""

TIMEOUT = 120.0  # seconds a request may take before it counts as an error


class Storm:
    """The candidates' shared schedule and what they saw."""

    def __init__(self, base: str, programme: str, args: argparse.Namespace) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.address = (host, int(port))
        self.programme, self.args = programme, args
        self.stats = {kind: {"ok": 0, "errors": 0, "latencies": []} for kind in ("start", "answer", "submit")}
        self.stats["answer"].update(hot_path=0, full_stack=0)
        self.reconnects = 0  # idle keep-alive connections the server had closed: sent again on a new one
        # (monotonic time of the reply, latency ms, confirmed) of each answer
        self.answered_at: list[tuple[float, float, bool]] = []
        self.started_at: list[float] = []  # when each start was answered
        self.confirmed: dict[str, dict[str, dict]] = {}
        self.t0 = 0.0

    @property
    def answering(self) -> float:
        """How long the candidates answer: the answer window, or the saturation's seconds."""
        return self.args.saturate or self.args.answer_window

    async def call(self, http: RawHttp, kind: str, method: str, path: str, headers: dict, body: dict | None):
        """One request on the candidate's connection: its status (None: no reply) and its JSON reply."""
        payload = json.dumps(body).encode() if body is not None else b""
        started = time.perf_counter()
        status, reply = None, b""
        for attempt in (1, 2):
            reused = http.writer is not None
            try:
                async with asyncio.timeout(TIMEOUT):
                    status, reply = await http.request(method, path, headers, payload)
                break
            except (OSError, asyncio.IncompleteReadError) as error:
                http.close()
                # A browser sends again, on a new connection, a request the server closed an idle connection on
                # before reading it; every request here may be sent twice (the API makes each idempotent).
                stale = isinstance(error, ConnectionError) or (
                    isinstance(error, asyncio.IncompleteReadError) and not error.partial
                )
                if not (reused and stale and attempt == 1):
                    break
                self.reconnects += 1
            except (TimeoutError, ValueError):
                http.close()
                break
        latency = (time.perf_counter() - started) * 1000
        stats = self.stats[kind]
        stats["latencies"].append(latency)
        stats["ok" if status == 200 else "errors"] += 1
        if status != 200 and "first_error" not in stats:
            stats["first_error"] = f"{status} {reply[:300].decode(errors='replace')}"
        if kind == "answer":
            self.answered_at.append((time.monotonic(), latency, status == 200))
            if status is not None:
                stats["hot_path" if served_by(http.head, b"exam_answer") else "full_stack"] += 1
        return status, (json.loads(reply) if status == 200 else None)

    async def candidate(self, token: str) -> None:
        args = self.args
        http = RawHttp(*self.address)
        rng = random.Random(token)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        try:
            await asyncio.sleep(rng.uniform(0, args.start_window))
            status, paper = await self.call(
                http, "start", "POST", f"/api/v1/exams/{self.programme}/attempts", headers, {"kind": "exam"}
            )
            self.started_at.append(time.monotonic())
            if paper is None:
                return
            # The exam page's way: the start's page key with every answer (the hot path answers those).
            key = paper.get("page_key")
            answer_headers = {**headers, "X-Exam-Key": key} if key else headers
            mine = self.confirmed.setdefault(str(paper["id"]), {})
            questions = paper["questions"]
            answer_from = self.t0 + args.start_window
            answer_until = answer_from + self.answering

            async def answer(question: dict) -> None:
                if question["kind"] == "fill":
                    value = ["答案"] * question["blanks"]
                elif question["kind"] == "multiple":
                    value = sorted(rng.sample(range(len(question["options"])), 2))
                else:
                    value = [rng.randrange(len(question["options"]))]
                history = mine.setdefault(str(question["id"]), {"acknowledged": None, "unanswered_after": []})
                status, _saved = await self.call(
                    http,
                    "answer",
                    "PUT",
                    f"/api/v1/attempts/{paper['id']}/answers/{question['id']}",
                    answer_headers,
                    {"value": value},
                )
                if status == 200:
                    history["acknowledged"], history["unanswered_after"] = value, []
                else:
                    history["unanswered_after"].append(
                        value
                    )  # it may have been stored before the reply was lost

            if args.saturate:
                # all at once, once the start window is over, each answer as soon as the last one is confirmed
                await asyncio.sleep(max(0.0, answer_from - time.monotonic()))
                turn = 0
                while time.monotonic() < answer_until:
                    await answer(questions[turn % len(questions)])
                    turn += 1
            else:
                gap = max(0.0, (answer_until - time.monotonic()) / max(1, len(questions)))
                for question in questions:
                    await asyncio.sleep(rng.uniform(0.5, 1.5) * gap)
                    await answer(question)
            submit_at = answer_until + rng.uniform(0, args.submit_window)
            await asyncio.sleep(max(0.0, submit_at - time.monotonic()))
            await self.call(http, "submit", "POST", f"/api/v1/attempts/{paper['id']}/submit", headers, None)
        finally:
            http.close()

    async def run(self, tokens: list[str]) -> float:
        self.t0 = time.monotonic()
        await asyncio.gather(*(self.candidate(token) for token in tokens))
        return time.monotonic() - self.t0

    def summary(self, elapsed: float) -> dict:
        out: dict = {}
        total = 0
        for kind, stats in self.stats.items():
            out[kind] = {
                **{k: v for k, v in stats.items() if k != "latencies"},
                **latency_summary(stats["latencies"]),
            }
            total += stats["ok"] + stats["errors"]
        out["reconnects"] = self.reconnects
        out["requests"] = total
        out["seconds"] = round(elapsed, 1)
        out["requests_per_second"] = round(total / elapsed, 1)
        if self.args.saturate:
            # the answers whose reply came within the saturation's seconds
            since = self.t0 + self.args.start_window
            until = since + self.args.saturate
            inside = [(latency, ok) for at, latency, ok in self.answered_at if since <= at <= until]
            confirmed = sum(ok for _latency, ok in inside)
            out["saturation"] = {
                "seconds": self.args.saturate,
                "answers_confirmed": confirmed,
                "errors": len(inside) - confirmed,
                "answers_per_second": round(confirmed / self.args.saturate, 1),
                **latency_summary([latency for latency, _ok in inside]),
                # candidates whose start was answered only after the answering began (fewer clients meanwhile)
                "starts_late": sum(1 for at in self.started_at if at > since),
            }
        return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--candidates", type=int, default=2000)
    parser.add_argument("--start-window", type=float, default=60)
    parser.add_argument("--answer-window", type=float, default=600)
    parser.add_argument("--submit-window", type=float, default=60)
    parser.add_argument(
        "--saturate",
        type=float,
        default=0,
        metavar="SECONDS",
        help="instead of the answer window: every candidate answers as fast as it can for this long",
    )
    parser.add_argument("--server", choices=("granian", "gunicorn"), default="granian")
    parser.add_argument("--workers", type=int, default=None, help="default 2 (granian), 4 (gunicorn)")
    parser.add_argument("--threads", type=int, default=None, help="per worker; default 2")
    parser.add_argument(
        "--busy-neighbour",
        type=int,
        default=0,
        metavar="N",
        help="for the whole storm, N processes burn a whole core each (stress-ng if installed)",
    )
    args = parser.parse_args()
    if args.workers is None:
        args.workers = 2 if args.server == "granian" else 4
    if args.threads is None:
        args.threads = 2
    env = env_for(15)
    env["FACE_CHECK_AT_EXAM"] = (
        "false"  # the exam path alone: face checks are measured by bench/face_verify.py
    )
    setup = fresh_database(env, SETUP.replace("sys.argv[1]", str(args.candidates)))
    port = 8766
    storm = Storm(f"http://127.0.0.1:{port}", setup["programme"], args)
    planned = args.start_window + storm.answering + args.submit_window
    server = start_server(env, port, args.workers, args.threads, args.server)
    try:
        # (the neighbours stop by themselves well after the storm's planned end, should this process die)
        with busy_neighbours(args.busy_neighbour, 2 * planned + 120) as burning:
            probe = cpu_probe(server.pid)
            elapsed = run_loop(storm.run(setup["tokens"]))
            cores = probe()
    finally:
        stop_server(server)
    sent_file = ROOT / "var" / "exam_storm_confirmed.json"
    sent_file.parent.mkdir(exist_ok=True)
    sent_file.write_text(json.dumps(storm.confirmed))
    check = shell_json(env, CHECK.replace("sys.argv[1]", repr(str(sent_file))))
    tps = pgbench(20)
    summary = storm.summary(elapsed)
    if "saturation" in summary:
        summary["saturation"]["ratio_to_pgbench"] = round(
            summary["saturation"]["answers_per_second"] / tps, 3
        )
    report = {
        "candidates": args.candidates,
        "windows_s": {
            "start": args.start_window,
            "answer": None if args.saturate else args.answer_window,
            "saturate": args.saturate or None,
            "submit": args.submit_window,
        },
        "server": f"{args.server} {args.workers}x{args.threads}"
        + (" gthread" if args.server == "gunicorn" else ""),
        "busy_neighbour": burning,
        **summary,
        "cpu_cores": cores,
        "check": check,
        "zero_lost": check["lost"] == 0 and check["wrong_value"] == 0 and check["wrong_score"] == 0,
        "pgbench_update_tps": tps,
        "ratio_to_pgbench": round(summary["requests_per_second"] / tps, 3),
    }
    run(["psql", f"{PG}/postgres", "-qc", f"DROP DATABASE IF EXISTS {DB}"])
    print(json.dumps(report, indent=1, ensure_ascii=False))  # noqa: T201 - the report is the output
    return 0 if report["zero_lost"] else 1


if __name__ == "__main__":
    sys.exit(main())
