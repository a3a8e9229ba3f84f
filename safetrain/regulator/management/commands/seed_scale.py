"""`manage.py seed_scale --learners 200000`: a realistic volume for the regulator statistics (REG-01) benchmark.

Guangdong's cities and counties each get enterprises of varied industries; the learners (valid resident ID
numbers: their region, birth dates from 1960 to 2005, both sexes) belong to them; about 70 % enrolled in the last
twelve months, half of those sat the exam (80 % passed), the passed ones hold a certificate (2 % revoked).
Written with bulk inserts in batches, then the statistics cube is rebuilt; accounts get no usable password. Run it
on an empty benchmark database.

It also writes the legal records a restore drill verifies, as the real services write them. Every enrolment has one
study session on its lesson (with its lesson-progress row and the day's credit) and that session's 3 to 8 study
records: the period start, 1 to 6 clean heartbeats credited by the crediting engine's rule (learning.crediting) and
the period end. Every submitted exam has its exam record (assessment.exams.attempt_submit). A revoked certificate's study time
is cancelled by a record, as a confirmed cheating review does. The audit chain gets, through `chain_append`, the
entries of the enterprises created, one roster import per enterprise and every revocation (a few thousand, appended
one by one). At the end `seal_all` seals every record, so `manage.py verify_records` checks them all.

The records draw from their own random stream, so a seed still gives the same learners, enrolments and exams.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import time
from collections import Counter
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.utils import timezone

from safetrain.accounts.identity import make_resident_id
from safetrain.accounts.models import Membership, Role, User, id_index_of, name_index_of
from safetrain.assessment.models import ExamAttempt, ExamRecord
from safetrain.learning.crediting import study_day
from safetrain.learning.models import (
    DailyCredit,
    Enrolment,
    LessonProgress,
    SessionState,
    StudyRecord,
    StudyRecordKind,
    StudySession,
)
from safetrain.orgs.models import Industry, OrganisationKind, Region, RegionLevel
from safetrain.orgs.services import organisation_create
from safetrain.records.models import AuditEntry, AuditResult, RecordSeal
from safetrain.records.sealing import SOURCES, seal_all
from safetrain.records.services import audit_log, chain_append

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰建国志红梅"
BATCH = 5000
# Guangdong's broadband and mobile address blocks, and the browsers learners study in (WeChat on a phone, mostly).
IP_PREFIXES = (
    "113.108",
    "113.65",
    "14.23",
    "14.145",
    "183.6",
    "183.37",
    "120.236",
    "119.129",
    "59.41",
    "223.104",
)
AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 "
    "Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 "
    "Safari/537.36 Edg/122.0.0.0",
    "Mozilla/5.0 (Linux; Android 13; V2203A Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160065 MMWEBSDK/20240301 MicroMessenger/8.0.48.2580"
    "(0x28003036) WeChat/arm64 Weixin NetType/4G Language/zh_CN ABI/arm64",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 "
    "MicroMessenger/8.0.49(0x18003137) NetType/WIFI Language/zh_CN",
    "Mozilla/5.0 (Linux; Android 12; HarmonyOS; NOH-AN00; HMSCore 6.13.0.302) AppleWebKit/537.36 (KHTML, like "
    "Gecko) Chrome/99.0.4844.88 HuaweiBrowser/14.0.5.302 Mobile Safari/537.36",
)
REVOKE_REASON = "经人工复核确认学习期间冒名顶替，学时作废，证书撤销"


def _ip(rng: random.Random) -> str:
    return f"{rng.choice(IP_PREFIXES)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def _session_start(rng: random.Random, opened_on: dt.date, before: dt.datetime) -> dt.datetime:
    """A moment of a study day (07:00 to 22:00) from the account's opening to `before` (the exam, or now)."""
    days = max(0, (timezone.localdate(before) - opened_on).days)
    day = opened_on + dt.timedelta(days=rng.randrange(days + 1))
    start = timezone.make_aware(dt.datetime.combine(day, dt.time(7))) + dt.timedelta(
        seconds=rng.uniform(0, 15 * 3600)
    )
    if start > before - dt.timedelta(minutes=10):
        start = before - dt.timedelta(minutes=rng.uniform(10, 120))
    return start


class Study:
    """One enrolment's study session on its lesson and everything it wrote, as study_session_open,
    heartbeat_record and study_session_close write it: the lesson-progress row, the session (closed), its records
    (period start, clean heartbeats, period end) and the credit of each study day.

    A heartbeat comes every interval plus a little network delay; the player reports its own position, a little
    behind the server's clock, and the beat credits the position advance, at most the time since the previous beat
    plus the carried jitter and never more than interval + tolerance (learning.beats.assess_beat, the clean
    path). A face check falls due at a random moment within the lesson's remaining video (face_gate.first_check_at);
    the page is closed before it, so no check is due during the session.

    The progress row and the session are models, inserted first; the records are plain rows for
    `study_records_insert`, naming the session by its id."""

    def __init__(
        self,
        rng: random.Random,
        *,
        enrolment: Enrolment,
        lesson_id: int,
        start: dt.datetime,
        face_window: float | None,
    ) -> None:
        interval = settings.HEARTBEAT_INTERVAL_SECONDS
        tolerance = settings.HEARTBEAT_TOLERANCE_SECONDS
        face_due = (
            start + dt.timedelta(seconds=max(5.0, rng.uniform(0.2, 0.8) * face_window))
            if face_window
            else None
        )
        self.keys = {"learner_id": enrolment.learner_id, "enrolment_id": enrolment.pk, "lesson_id": lesson_id}
        self.ip, self.agent = _ip(rng), rng.choice(AGENTS)
        # (at, kind, seq, position, credited seconds, reasons) of each record of the session
        self.beats: list[tuple[dt.datetime, str, int | None, float, float, list[str]]] = [
            (start, StudyRecordKind.PERIOD_START.value, None, 0.0, 0.0, [])
        ]
        self.days: dict[dt.date, float] = {}
        at, position, carry, credited, seq = start, 0.0, 0.0, 0.0, 0
        for _ in range(rng.randint(1, 6)):
            elapsed = interval + rng.uniform(0.02, 0.8)
            beat_at = at + dt.timedelta(seconds=elapsed)
            if face_due is not None and beat_at >= face_due:
                break
            reported = round(position + elapsed - rng.uniform(-0.05, 0.4), 3)
            end = min(reported, position + min(elapsed + carry, interval + tolerance))
            credit = end - position
            carry = min(tolerance, max(0.0, elapsed + carry - credit))
            at, position, credited, seq = beat_at, end, credited + credit, seq + 1
            day = study_day(at)
            self.days[day] = self.days.get(day, 0.0) + credit
            self.beats.append((at, StudyRecordKind.HEARTBEAT.value, seq, reported, credit, []))
        ended = at + dt.timedelta(seconds=rng.uniform(2, 40))
        if face_due is not None and ended >= face_due:
            ended = at + (face_due - at) / 2
        self.beats.append(
            (ended, StudyRecordKind.PERIOD_END.value, None, position, credited, [SessionState.CLOSED.value])
        )
        self.progress = LessonProgress(
            **self.keys_of("enrolment_id", "lesson_id"),
            last_position=position,
            furthest_position=position,
            watched=[[0.0, position]] if position > 0 else [],
            credited_seconds=credited,
        )
        self.session = StudySession(
            **self.keys,
            progress=self.progress,
            state=SessionState.CLOSED,
            started_at=start,
            last_accepted_at=at,
            last_seq=seq,
            last_position=position,
            last_clean_playing=seq > 0,
            time_carry=carry,
            credited_seconds=credited,
            face_due_at=face_due,
            ended_at=ended,
            ip=self.ip,
            user_agent=self.agent,
        )
        self.cancelled_days: set[dt.date] = set()

    def keys_of(self, *names: str) -> dict[str, int]:
        return {name: self.keys[name] for name in names}

    def records(self) -> list[tuple[Any, ...]]:
        """The session's records as rows of STUDY_RECORD_FIELDS (after the session is inserted: they name its id)."""
        learner, enrolment, lesson = self.keys.values()
        session, ip, agent = self.session.pk, self.ip, self.agent
        return [
            (at, learner, enrolment, lesson, session, kind, seq, position, credited, True, reasons, ip, agent)
            for at, kind, seq, position, credited, reasons in self.beats
        ]

    def cancel(self, at: dt.datetime) -> tuple[Any, ...]:
        """Cheating confirmed (learning.review): the lesson's credit is cancelled by a record without a session,
        its progress starts again, and the days' credit no longer counts (the daily cap stays used)."""
        progress = self.progress
        learner, enrolment, lesson = self.keys.values()
        cancelled = StudyRecordKind.CANCELLED.value
        reasons = ["cheating_confirmed"]
        record = (
            at,
            learner,
            enrolment,
            lesson,
            None,
            cancelled,
            None,
            None,
            -progress.credited_seconds,
            False,
        )
        record += (reasons, "", "")
        progress.cancelled_seconds = progress.credited_seconds
        progress.credited_seconds = 0
        progress.watched = []
        progress.furthest_position = 0
        self.cancelled_days = set(self.days)
        return record

    def daily_credits(self) -> list[DailyCredit]:
        return [
            DailyCredit(
                **self.keys_of("learner_id", "enrolment_id"),
                day=day,
                seconds=seconds,
                cancelled_seconds=seconds if day in self.cancelled_days else 0,
            )
            for day, seconds in self.days.items()
        ]


# The columns a study record is written with are the ones its seal covers.
STUDY_RECORD_FIELDS = SOURCES["study"].fields


def study_records_insert(rows: list[tuple[Any, ...]]) -> None:
    """Insert study records given as rows of STUDY_RECORD_FIELDS. They are most of the rows written, so on
    PostgreSQL they go in by psycopg's COPY FROM STDIN, which takes a sixth of the CPU time of building models and
    bulk_create (20,000 records: 0.25 s against 1.5 s); the table's triggers only refuse updates and deletes, so
    they apply as they do to any insert. Elsewhere (SQLite in tests) bulk_create."""
    if connection.vendor != "postgresql":
        StudyRecord.objects.bulk_create(
            [StudyRecord(**dict(zip(STUDY_RECORD_FIELDS, row, strict=True))) for row in rows],
            batch_size=1000,
        )
        return
    from psycopg.types.json import Jsonb

    meta = StudyRecord._meta
    columns = ", ".join(f'"{meta.get_field(name).column}"' for name in STUDY_RECORD_FIELDS)
    reasons = STUDY_RECORD_FIELDS.index("reasons")
    with connection.cursor() as cursor, cursor.copy(f'COPY "{meta.db_table}" ({columns}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(row[:reasons] + (Jsonb(row[reasons]),) + row[reasons + 1 :])


def exam_record(attempt: ExamAttempt) -> ExamRecord:
    """The record attempt_submit writes for a submitted attempt: its answers as scored and its paper's digest."""
    return ExamRecord(
        at=attempt.submitted_at,
        attempt_id=attempt.pk,
        enrolment_id=attempt.enrolment_id,
        learner_id=attempt.enrolment.learner_id,
        kind=attempt.kind,
        number=attempt.number,
        started_at=attempt.started_at,
        submitted_at=attempt.submitted_at,
        submitted_by=attempt.submitted_by,
        score=attempt.score,
        total=attempt.total,
        passed=attempt.passed,
        answers=[],  # the seeded papers hold no questions, so no answers
        paper_digest=hashlib.sha256(
            json.dumps(attempt.items, ensure_ascii=False, sort_keys=True).encode()
        ).hexdigest(),
        ip=attempt.ip,
    )


class Command(BaseCommand):
    help = (
        "Generate a large realistic volume of learners, enrolments, exams and certificates, with their study and "
        "exam records, audit trail and seals (benchmarks, restore drills)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--learners", type=int, default=200_000)
        parser.add_argument("--enterprises", type=int, default=400)
        parser.add_argument("--seed", type=int, default=20261201)

    def handle(self, *args, learners: int, enterprises: int, seed: int, **options) -> None:
        from safetrain.assessment.models import AttemptKind, PaperRule
        from safetrain.catalog.models import RegionProfile, Video, VideoStatus
        from safetrain.catalog.services import (
            chapter_add,
            course_create,
            course_publish,
            lesson_add,
            programme_course_add,
            programme_create,
            programme_publish,
        )
        from safetrain.certification.models import Certificate

        rng = random.Random(seed)
        # The records' own stream: drawing from it leaves the learners, enrolments and exams of a seed unchanged.
        trail = random.Random(seed + 1)
        started = time.monotonic()
        counties = list(Region.objects.filter(level=RegionLevel.COUNTY, code__startswith="44"))
        industries = [i for i, _label in Industry.choices]
        video = Video.objects.create(
            title="规模测试视频",
            original="videos/originals/none.mp4",
            status=VideoStatus.READY,
            duration_seconds=600,
            hls_prefix="videos/hls/none",
        )
        course = course_create(code="SCALE-C", title="规模测试课程")
        lesson = lesson_add(chapter=chapter_add(course=course, title="章"), title="节", video=video)
        course_publish(course=course)
        programme = programme_create(
            code="scale-p",
            name="规模测试培训项目",
            profile=RegionProfile.objects.get(code="guangdong_online"),
            kind="initial",
            audience="other",
            required_minutes=10,
        )
        programme_course_add(programme=programme, course=course)
        programme = programme_publish(programme=programme)
        rule = PaperRule.objects.create(
            programme=programme, name="卷", duration_minutes=60, pass_mark=80, attempts=2
        )
        # face_gate.first_check_at: the first check falls within the interval and the video still to watch.
        face_window = (
            min(programme.profile.verification_interval_minutes * 60.0, lesson.duration_seconds)
            if settings.FACE_CHECKS_WHILE_STUDYING
            else None
        )
        units = []
        for number in range(enterprises):
            county = rng.choice(counties)
            units.append(
                organisation_create(
                    name=f"规模测试企业{number:04d}",
                    kind=OrganisationKind.ENTERPRISE,
                    region=county,
                    industry=rng.choice(industries),
                )
            )
        self.stdout.write(f"{len(units)} enterprises in {time.monotonic() - started:.0f} s")
        today = timezone.localdate()
        seen: set[str] = set()
        made = 0
        members: Counter[int] = Counter()
        revoked: list[
            tuple[dt.datetime, int, str, int]
        ] = []  # (when, certificate, number, unit) for the audit
        study_records = exam_records = 0
        while made < learners:
            size = min(BATCH, learners - made)
            users, homes = [], []
            while len(users) < size:
                unit = rng.choice(units)
                birth = dt.date(1960, 1, 1) + dt.timedelta(days=rng.randrange(46 * 365))
                number = make_resident_id(unit.region.code, birth, rng.randrange(1000))
                if number in seen:
                    continue
                seen.add(number)
                name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
                users.append(
                    User(
                        id_number=number,
                        id_index=id_index_of(number),
                        name=name,
                        name_index=name_index_of(name),
                        sex="M" if int(number[16]) % 2 else "F",
                        birth_date=birth,
                        password="!",
                        primary_organisation=unit,
                    )
                )
                homes.append(unit)
            members.update(unit.pk for unit in homes)
            with transaction.atomic():
                User.objects.bulk_create(users, batch_size=1000)
                Membership.objects.bulk_create(
                    [
                        Membership(user=u, organisation=o, role=Role.LEARNER)
                        for u, o in zip(users, homes, strict=True)
                    ],
                    batch_size=1000,
                )
                enrolments = [
                    Enrolment(
                        learner=u,
                        programme=programme,
                        organisation=o,
                        opened_on=today - dt.timedelta(days=rng.randrange(365)),
                    )
                    for u, o in zip(users, homes, strict=True)
                    if rng.random() < 0.7
                ]
                Enrolment.objects.bulk_create(enrolments, batch_size=1000)
                attempts, certificates = [], []
                sat: dict[int, ExamAttempt] = {}
                for enrolment in enrolments:
                    if rng.random() >= 0.5:
                        continue
                    passed = rng.random() < 0.8
                    at = timezone.now() - dt.timedelta(
                        days=rng.randrange(max(1, (today - enrolment.opened_on).days + 1))
                    )
                    began = at - dt.timedelta(minutes=trail.uniform(15, 55))
                    attempt = ExamAttempt(
                        enrolment=enrolment,
                        rule=rule,
                        kind=AttemptKind.EXAM,
                        number=1,
                        started_at=began,
                        deadline=began + dt.timedelta(minutes=rule.duration_minutes),
                        submitted_at=at,
                        submitted_by="candidate",
                        score=Decimal(90 if passed else 50),
                        total=Decimal(100),
                        passed=passed,
                        ip=_ip(trail),
                        user_agent=trail.choice(AGENTS),
                    )
                    attempts.append(attempt)
                    sat[enrolment.pk] = attempt
                    if passed:
                        revoked_at = at if rng.random() < 0.02 else None
                        certificates.append(
                            Certificate(
                                number=f"SC{len(seen):08d}{len(certificates):05d}",
                                kind="certificate",
                                enrolment=enrolment,
                                learner=enrolment.learner,
                                programme=programme,
                                holder_name="规模测试",
                                holder_name_masked="规**试",  # bulk_create skips save(), which fills it
                                holder_id_masked="-",
                                programme_name=programme.name,
                                category="测试",
                                class_hours=Decimal(1),
                                issuer="安训",
                                issued_on=at.date(),
                                revoked_at=revoked_at,
                                revoked_reason=REVOKE_REASON if revoked_at else "",
                            )
                        )
                ExamAttempt.objects.bulk_create(attempts, batch_size=1000)
                Certificate.objects.bulk_create(certificates, batch_size=1000)
                # Study before the exam (or up to now); a revoked certificate's study time is cancelled.
                studies = {
                    e.pk: Study(
                        trail,
                        enrolment=e,
                        lesson_id=lesson.pk,
                        start=_session_start(
                            trail,
                            e.opened_on,
                            sat[e.pk].started_at if e.pk in sat else timezone.now(),
                        ),
                        face_window=face_window,
                    )
                    for e in enrolments
                }
                cancellations = []
                for certificate in certificates:
                    if certificate.revoked_at is not None:
                        study = studies[certificate.enrolment.pk]
                        cancellations.append(study.cancel(certificate.revoked_at))
                        revoked.append(
                            (
                                certificate.revoked_at,
                                certificate.pk,
                                certificate.number,
                                certificate.learner.primary_organisation_id,
                            )
                        )
                LessonProgress.objects.bulk_create([s.progress for s in studies.values()], batch_size=1000)
                StudySession.objects.bulk_create([s.session for s in studies.values()], batch_size=1000)
                records = [r for s in studies.values() for r in s.records()] + cancellations
                study_records_insert(records)
                DailyCredit.objects.bulk_create(
                    [c for s in studies.values() for c in s.daily_credits()], batch_size=1000
                )
                ExamRecord.objects.bulk_create([exam_record(a) for a in attempts], batch_size=1000)
            made += size
            study_records += len(records)
            exam_records += len(attempts)
            self.stdout.write(
                f"{made} learners, {study_records} study records, {exam_records} exam records in "
                f"{time.monotonic() - started:.0f} s"
            )
        # The audit chain is appended one entry at a time (each locks the chain head): a few thousand, not a row
        # per learner. Roster imports as roster_import writes them; revocations in time order, at their moment.
        with transaction.atomic():
            for unit in units:
                audit_log(
                    action="enterprise.roster_import",
                    obj=unit,
                    detail={
                        "file": f"{unit.name}学员花名册.xlsx",
                        "created": members[unit.pk],
                        "linked": 0,
                        "unchanged": 0,
                        "left_out": 0,
                    },
                )
            for at, certificate_id, number, unit_id in sorted(revoked):
                chain_append(
                    AuditEntry(
                        at=at,
                        organisation_id=unit_id,
                        action="certificate.revoke",
                        object_type="certification.certificate",
                        object_id=str(certificate_id),
                        result=AuditResult.SUCCESS,
                        detail={"number": number, "reason": REVOKE_REASON},
                    )
                )
        self.stdout.write(
            f"audit trail: {AuditEntry.objects.count()} entries in {time.monotonic() - started:.0f} s"
        )
        sealed = seal_all()
        self.stdout.write(
            f"sealed {sealed['study']} study and {sealed['exam']} exam records in "
            f"{RecordSeal.objects.count()} seals in {time.monotonic() - started:.0f} s"
        )
        # Bulk inserts bypass the model signals that keep the statistics cube: rebuild it from the records.
        from safetrain.regulator import counters

        cells = counters.rebuild()
        self.stdout.write(f"statistics cube: {cells} cells in {time.monotonic() - started:.0f} s")
