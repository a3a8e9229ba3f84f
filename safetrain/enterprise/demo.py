"""Demo construction project: its people on site, a training class, and training at every stage, so that the
project training report (ENT-05) has a number in every column. Idempotent.

The team workers are in the class 「入场安全教育第1期」; four of them have studied (what the crediting engine
would have recorded) and three sat the exam through the exam services (one failed, two passed). The project's
general workers (普工) are on site and not trained yet: the ones to add to the next class.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from safetrain.accounts.demo import DemoAccounts
from safetrain.assessment.demo_bank import seed_demo_bank
from safetrain.assessment.exams import answer_save, attempt_submit, exam_start
from safetrain.assessment.models import QuestionKind
from safetrain.catalog.demo import DemoCatalogue
from safetrain.catalog.models import JobType, Programme
from safetrain.enterprise import classes
from safetrain.enterprise.models import EnrolmentCall, Personnel, TrainingClass
from safetrain.learning.models import Enrolment, LessonProgress
from safetrain.learning.selectors import courses_of_enrolment

JOB_TYPES = {"钢筋班组": "GJ", "木工班组": "MG", "南山科技园二期项目": "PG"}
CLASS_NAME = "入场安全教育第1期"
# (learner key, how far): "part" studied half a lesson, "failed"/"passed" studied everything and sat the exam.
STAGES = [("learner06", "part"), ("learner10", "failed"), ("learner13", "passed"), ("learner14", "passed")]


def _study(enrolment: Enrolment, *, everything: bool) -> None:
    now = timezone.now()
    for course in courses_of_enrolment(enrolment):
        for chapter in course.chapters.all():
            for lesson in chapter.lessons.filter(kind="video"):
                seconds = lesson.duration_seconds if everything else lesson.duration_seconds / 2
                LessonProgress.objects.update_or_create(
                    enrolment=enrolment,
                    lesson=lesson,
                    defaults={
                        "watched": [[0.0, seconds]],
                        "credited_seconds": seconds,
                        "furthest_position": seconds,
                        "last_position": seconds,
                        "completed_at": now if everything else None,
                    },
                )
                if not everything:
                    return


def _sit_exam(enrolment: Enrolment, *, passing: bool) -> None:
    # The demo's learners have no camera: the exam's face check is left out for these seeded attempts only.
    with override_settings(FACE_CHECK_AT_EXAM=False):
        attempt = exam_start(learner=enrolment.learner, programme=enrolment.programme)
    for number, item in enumerate(attempt.items):
        if not passing and number % 2:
            continue  # half the paper unanswered: a fail
        if item["kind"] == QuestionKind.FILL:
            value = [accepted[0] for accepted in item["answer"]]
        else:
            value = [
                position for position, original in enumerate(item["order"]) if original in item["answer"]
            ]
        answer_save(
            learner=enrolment.learner, attempt_id=attempt.pk, question_id=item["question"], value=value
        )
    attempt_submit(attempt_id=attempt.pk, learner=enrolment.learner)


@transaction.atomic
def seed_enterprise(accounts: DemoAccounts, catalogue: DemoCatalogue) -> None:
    project = accounts.organisations["proj"]
    programme = catalogue.programmes["sz-construction-worker"]
    seed_demo_bank(programme)  # the Shenzhen exam draws from the demo bank
    joined = timezone.localdate() - dt.timedelta(days=30)
    for account in accounts.accounts:
        if account["role"] != "learner" or account["organisation"] not in JOB_TYPES:
            continue
        Personnel.objects.get_or_create(
            organisation=project,
            user=accounts.user(account["key"]),
            defaults={
                "job_type": JobType.objects.get(code=JOB_TYPES[account["organisation"]]),
                "joined_on": joined,
            },
        )
    training_class = TrainingClass.objects.filter(organisation=project, name=CLASS_NAME).first()
    if training_class is None:
        training_class = classes.class_create(
            unit=project, programme=programme, name=CLASS_NAME, starts_on=joined + dt.timedelta(days=1)
        )
        teams = [
            a
            for a in accounts.accounts
            if a["role"] == "learner" and a["organisation"] != "南山科技园二期项目"
        ]
        members = Personnel.objects.filter(
            organisation=project,
            user__in=[accounts.user(a["key"]) for a in teams if a["organisation"] in JOB_TYPES],
        )
        classes.class_add(training_class=training_class, person_ids=[p.pk for p in members])
        for key, stage in STAGES:
            enrolment = Enrolment.objects.get(learner=accounts.user(key), programme=programme)
            _study(enrolment, everything=stage != "part")
            if stage != "part":
                _sit_exam(enrolment, passing=stage == "passed")


def seed_enrolment_call(accounts: DemoAccounts, catalogue: DemoCatalogue) -> EnrolmentCall:
    """The Guangzhou call for enrolment (seeds/002), run by the demo training institution."""
    call = EnrolmentCall.objects.filter(organiser=accounts.organisations["inst"]).first()
    if call is None:
        call = EnrolmentCall.objects.create(
            organiser=accounts.organisations["inst"],
            title="2026年度非高危行业生产经营单位主要负责人和安全生产管理人员线上培训",
            initial_programme=Programme.objects.get(code="gz-principal-initial-32h"),
            refresher_programme=Programme.objects.get(code="gz-principal-refresher-12h"),
            study_days=30,
            payee_name="广东课通安全技术咨询有限公司（演示）",
            payee_bank="中国建设银行股份有限公司广州福今支行",
            payee_account="44050140070700001028",
        )
    return call
