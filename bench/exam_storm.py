"""Exam storm (issue 6): N candidates start the same exam within a start window, answer every question with one
request per answer, and all submit in the last window; against gunicorn + PostgreSQL + Redis as in production.
Afterwards every answer every candidate was told was saved is compared with the database, and every score is
recomputed from the stored answers (zero lost, zero wrong is the pass condition).

    .venv/bin/python bench/exam_storm.py --candidates 2000 --start-window 60 --answer-window 600 --submit-window 60

Creates and drops the database `safetrain_bench` on the machine's PostgreSQL; targets 127.0.0.1 only and stops by
itself. Reports requests/s, latency percentiles per kind of request, errors, and the pgbench single-row UPDATE rate
of the same run as the reference.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))

from heartbeats import (  # noqa: E402
    DB,
    PG,
    ROOT,
    env_for,
    fresh_database,
    pgbench,
    run,
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

CHECK = r"""
import json, sys
from decimal import Decimal
from safetrain.assessment.exams import is_correct
from safetrain.assessment.models import ExamAnswer, ExamAttempt
sent = json.load(open(sys.argv[1]))  # {attempt: {question: [positions]}} of the answers the server confirmed
lost = wrong_value = wrong_score = unsubmitted = 0
for attempt in ExamAttempt.objects.prefetch_related("answers"):
    items = {i["question"]: i for i in attempt.items}
    stored = {a.question_id: a for a in attempt.answers.all()}
    for qid, positions in sent.get(str(attempt.pk), {}).items():
        answer = stored.get(int(qid))
        if answer is None:
            lost += 1
            continue
        order = items[int(qid)]["order"]
        if sorted(order[p] for p in positions) != sorted(answer.value):
            wrong_value += 1
    if attempt.submitted_at is None:
        unsubmitted += 1
        continue
    score = sum((Decimal(items[a.question_id]["score"]) for a in stored.values()
                 if is_correct(items[a.question_id]["kind"], items[a.question_id]["answer"], a.value)), Decimal(0))
    if score != attempt.score:
        wrong_score += 1
print(json.dumps({"attempts": ExamAttempt.objects.count(), "answers_stored": ExamAnswer.objects.count(),
                  "confirmed_answers": sum(len(v) for v in sent.values()), "lost": lost, "wrong_value": wrong_value,
                  "wrong_score": wrong_score, "unsubmitted": unsubmitted}))
"""


async def candidate(session, base, token, programme, args, t0, stats, confirmed) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    rng = random.Random(token)

    async def call(kind: str, method: str, path: str, body=None):
        started = time.perf_counter()
        try:
            async with session.request(method, f"{base}{path}", json=body, headers=headers) as r:
                payload = await r.json()
                ok = r.status == 200
        except (TimeoutError, aiohttp.ClientError):
            payload, ok = {}, False
        stats[kind]["latencies"].append((time.perf_counter() - started) * 1000)
        stats[kind]["ok" if ok else "errors"] += 1
        return payload if ok else None

    await asyncio.sleep(rng.uniform(0, args.start_window))
    paper = await call("start", "POST", f"/api/v1/exams/{programme}/attempts", {"kind": "exam"})
    if paper is None:
        return
    mine = confirmed.setdefault(str(paper["id"]), {})
    questions = paper["questions"]
    answer_until = t0 + args.start_window + args.answer_window
    gap = max(0.0, (answer_until - time.monotonic()) / max(1, len(questions)))
    for question in questions:
        await asyncio.sleep(rng.uniform(0.5, 1.5) * gap)
        if question["kind"] == "fill":
            value = ["答案"] * question["blanks"]
        elif question["kind"] == "multiple":
            value = sorted(rng.sample(range(len(question["options"])), 2))
        else:
            value = [rng.randrange(len(question["options"]))]
        saved = await call(
            "answer", "PUT", f"/api/v1/attempts/{paper['id']}/answers/{question['id']}", {"value": value}
        )
        if saved is not None:
            mine[str(question["id"])] = value
    submit_at = t0 + args.start_window + args.answer_window + rng.uniform(0, args.submit_window)
    await asyncio.sleep(max(0.0, submit_at - time.monotonic()))
    await call("submit", "POST", f"/api/v1/attempts/{paper['id']}/submit")


async def storm(base, tokens, programme, args) -> tuple[dict, dict, float]:
    stats = {k: {"ok": 0, "errors": 0, "latencies": []} for k in ("start", "answer", "submit")}
    confirmed: dict = {}
    connector = aiohttp.TCPConnector(limit=256)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        t0 = time.monotonic()
        await asyncio.gather(
            *(candidate(session, base, t, programme, args, t0, stats, confirmed) for t in tokens)
        )
        elapsed = time.monotonic() - t0
    return stats, confirmed, elapsed


def summary(stats: dict, elapsed: float) -> dict:
    out = {}
    total = 0
    for kind, s in stats.items():
        lat = sorted(s["latencies"])
        pct = lambda p, lat=lat: round(lat[min(len(lat) - 1, int(len(lat) * p))], 1) if lat else None  # noqa: E731
        out[kind] = {
            "ok": s["ok"],
            "errors": s["errors"],
            "p50": pct(0.5),
            "p95": pct(0.95),
            "p99": pct(0.99),
            "mean": round(statistics.fmean(lat), 1) if lat else None,
        }
        total += s["ok"] + s["errors"]
    out["requests"] = total
    out["seconds"] = round(elapsed, 1)
    out["requests_per_second"] = round(total / elapsed, 1)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--candidates", type=int, default=2000)
    parser.add_argument("--start-window", type=float, default=60)
    parser.add_argument("--answer-window", type=float, default=600)
    parser.add_argument("--submit-window", type=float, default=60)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    env = env_for(15)
    env["FACE_CHECK_AT_EXAM"] = (
        "false"  # the exam path alone: face checks are measured by bench/face_verify.py
    )
    setup = fresh_database(env, SETUP.replace("sys.argv[1]", str(args.candidates)))
    port = 8766
    server = start_server(env, port, args.workers, args.threads)
    try:
        stats, confirmed, elapsed = asyncio.run(
            storm(f"http://127.0.0.1:{port}", setup["tokens"], setup["programme"], args)
        )
    finally:
        stop_server(server)
    sent_file = ROOT / "var" / "exam_storm_confirmed.json"
    sent_file.parent.mkdir(exist_ok=True)
    sent_file.write_text(json.dumps(confirmed))
    check = shell_json(env, CHECK.replace("sys.argv[1]", repr(str(sent_file))))
    report = {
        "candidates": args.candidates,
        "windows_s": [args.start_window, args.answer_window, args.submit_window],
        "gunicorn": f"{args.workers}x{args.threads} gthread",
        **summary(stats, elapsed),
        "check": check,
        "zero_lost": check["lost"] == 0 and check["wrong_value"] == 0 and check["wrong_score"] == 0,
        "pgbench_update_tps": pgbench(20),
    }
    run(["psql", f"{PG}/postgres", "-qc", f"DROP DATABASE IF EXISTS {DB}"])
    print(json.dumps(report, indent=1, ensure_ascii=False))  # noqa: T201 - the report is the output
    return 0 if report["zero_lost"] else 1


if __name__ == "__main__":
    sys.exit(main())
