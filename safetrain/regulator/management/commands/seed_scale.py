"""`manage.py seed_scale --learners 200000`: a realistic volume for the regulator statistics (REG-01) benchmark.

Guangdong's cities and counties each get enterprises of varied industries; the learners (valid resident ID
numbers: their region, birth dates from 1960 to 2005, both sexes) belong to them; about 70 % enrolled in the last
twelve months, half of those sat the exam (80 % passed), the passed ones hold a certificate (2 % revoked).
Written with bulk inserts in batches, then the statistics cube is rebuilt; accounts get no usable password. Run it
on an empty benchmark database.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from safetrain.accounts.identity import make_resident_id
from safetrain.accounts.models import Membership, Role, User, id_index_of, name_index_of
from safetrain.orgs.models import Industry, OrganisationKind, Region, RegionLevel
from safetrain.orgs.services import organisation_create

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰建国志红梅"
BATCH = 5000


class Command(BaseCommand):
    help = "Generate a large realistic volume of learners, enrolments, exams and certificates (benchmarks)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--learners", type=int, default=200_000)
        parser.add_argument("--enterprises", type=int, default=400)
        parser.add_argument("--seed", type=int, default=20261201)

    def handle(self, *args, learners: int, enterprises: int, seed: int, **options) -> None:
        from safetrain.assessment.models import AttemptKind, ExamAttempt, PaperRule
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
        from safetrain.learning.models import Enrolment

        rng = random.Random(seed)
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
        lesson_add(chapter=chapter_add(course=course, title="章"), title="节", video=video)
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
                for enrolment in enrolments:
                    if rng.random() >= 0.5:
                        continue
                    passed = rng.random() < 0.8
                    at = timezone.now() - dt.timedelta(
                        days=rng.randrange(max(1, (today - enrolment.opened_on).days + 1))
                    )
                    attempts.append(
                        ExamAttempt(
                            enrolment=enrolment,
                            rule=rule,
                            kind=AttemptKind.EXAM,
                            number=1,
                            started_at=at,
                            deadline=at,
                            submitted_at=at,
                            score=Decimal(90 if passed else 50),
                            total=Decimal(100),
                            passed=passed,
                        )
                    )
                    if passed:
                        certificates.append(
                            Certificate(
                                number=f"SC{len(seen):08d}{len(certificates):05d}",
                                kind="certificate",
                                enrolment=enrolment,
                                learner=enrolment.learner,
                                programme=programme,
                                holder_name="规模测试",
                                holder_id_masked="-",
                                programme_name=programme.name,
                                category="测试",
                                class_hours=Decimal(1),
                                issuer="安训",
                                issued_on=at.date(),
                                revoked_at=at if rng.random() < 0.02 else None,
                            )
                        )
                ExamAttempt.objects.bulk_create(attempts, batch_size=1000)
                Certificate.objects.bulk_create(certificates, batch_size=1000)
            made += size
            self.stdout.write(f"{made} learners in {time.monotonic() - started:.0f} s")
        # Bulk inserts bypass the model signals that keep the statistics cube: rebuild it from the records.
        from safetrain.regulator import counters

        cells = counters.rebuild()
        self.stdout.write(f"statistics cube: {cells} cells in {time.monotonic() - started:.0f} s")
