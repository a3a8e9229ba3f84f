"""Demo construction project: its people on site, a training class, and training at every stage, so that the
project training report (ENT-05) has a number in every column. Idempotent.

The team workers are in the class 「入场安全教育第1期」; four of them have studied (what the crediting engine
would have recorded, with the lesson quizzes passed through the quiz services) and three sat the exam through the
exam services (one failed, two passed). The project's general workers (普工) are on site and not trained yet: the
ones to add to the next class.

The project is linked to the construction real-name system (ENT-03, INT-02). The demo has its own, in process:
`DemoRealNameConnector` lists the project's seeded workers with their job codes, and seed_demo runs the first sync
with it; with REALNAME_DEMO=true (`make run`) the manual sync on the people page asks it too.

A Taiyuan learner has finished the theory of the Shanxi demo programme and its offline share, and passed its online
exam: the offline total test's paper is drawn and waits for the learner's score (EXM-08).
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone
from django.utils.translation import gettext as _

from safetrain.accounts.demo import DemoAccounts, demo_learners
from safetrain.accounts.identity import make_resident_id
from safetrain.assessment import offline
from safetrain.assessment.demo_bank import seed_demo_bank, seed_short_exam
from safetrain.assessment.exams import answer_save, attempt_submit, exam_start
from safetrain.assessment.models import OfflineTestPaper, QuestionKind
from safetrain.catalog.demo import OFFLINE_PROGRAMME, DemoCatalogue
from safetrain.catalog.models import JobType, OfflineSession, Programme
from safetrain.catalog.services import offline_session_record
from safetrain.enterprise import classes
from safetrain.enterprise.models import EnrolmentCall, Personnel, RealNameProject, RealNameSync, TrainingClass
from safetrain.enterprise.realname_sync import realname_sync
from safetrain.integrations.realname import RealNameUnavailable, RemoteProject, RemoteWorker
from safetrain.learning.models import Enrolment, LessonProgress, QuizQuestion
from safetrain.learning.quizzes import quiz_passed, quiz_start, quiz_submit
from safetrain.learning.selectors import courses_of_enrolment

JOB_TYPES = {"钢筋班组": "GJ", "木工班组": "MG", "南山科技园二期项目": "PG"}
# The real-name system's code and name of each demo job type (建办市函〔2018〕603号, CAT-03's mapping table).
REALNAME_JOB_CODES = {"GJ": ("020", "钢筋工"), "MG": ("240", "木工"), "PG": ("900", "普工")}
REALNAME_PROJECT_CODE = "NS-KJY2-2026"  # 南山科技园二期项目 in the demo's real-name system
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
                _pass_quiz(enrolment, lesson)


def _pass_quiz(enrolment: Enrolment, lesson) -> None:
    """The lesson's quiz (QZ-01) answered right through the quiz services, where its course has a quiz bank."""
    bank = QuizQuestion.objects.filter(course_id=lesson.chapter.course_id, is_active=True)
    if quiz_passed(enrolment.pk, lesson.pk) or not bank.exists():
        return
    attempt = quiz_start(enrolment=enrolment, lesson=lesson)
    answers = {str(q.pk): q.answer for q in QuizQuestion.objects.filter(pk__in=attempt.question_ids)}
    quiz_submit(learner=enrolment.learner, attempt_id=attempt.pk, answers=answers)


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
                "realname_job_code": REALNAME_JOB_CODES[JOB_TYPES[account["organisation"]]][0],
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


# The offline total test (EXM-08) ---------------------------------------------------------------------------------


@transaction.atomic
def seed_offline_test(accounts: DemoAccounts, catalogue: DemoCatalogue) -> OfflineTestPaper:
    """The Shanxi demo programme's learner with the theory done (lessons, quizzes, online exam passed) and the
    offline share attended, and the paper of the unit's offline total test: the score is the one thing left."""
    programme = catalogue.programmes[OFFLINE_PROGRAMME]
    unit = accounts.organisations["ent_ty"]
    seed_short_exam(programme)
    paper = OfflineTestPaper.objects.filter(programme=programme, organisation=unit).first()
    if paper is not None:
        return paper
    learners = [accounts.user(a["key"]) for a in accounts.accounts if a["key"].startswith("offline")]
    for learner in learners:
        enrolment = Enrolment.objects.get(learner=learner, programme=programme)
        _study(enrolment, everything=True)
        _sit_exam(enrolment, passing=True)
    today = timezone.localdate()
    if not OfflineSession.objects.filter(programme=programme, organisation=unit).exists():
        offline_session_record(
            programme=programme,
            organisation=unit,
            date=today - dt.timedelta(days=1),
            place="本单位三楼会议室",
            teacher="张建安",
            content="本单位安全生产规章制度、操作规程和典型事故案例（线下集中培训）",
            minutes=90,
            learners=learners,
        )
    return offline.paper_create(programme=programme, organisation=unit, held_on=today, duration_minutes=90)


# The construction real-name system (ENT-03, INT-02) -----------------------------------------------------------


def realname_demo_workers() -> list[RemoteWorker]:
    """The demo project's workers as the real-name system lists them: the team and project learners seed_demo put
    on site, with the real-name job codes of their job types."""
    job_types = {"team_a": "GJ", "team_b": "MG", "proj": "PG"}
    return [
        RemoteWorker(
            id_number=make_resident_id(region, birth, seq),
            name=name,
            phone="",
            job_code=REALNAME_JOB_CODES[job_types[org_key]][0],
            job_name=REALNAME_JOB_CODES[job_types[org_key]][1],
            on_site=True,
        )
        for _key, name, region, birth, seq, org_key in demo_learners()
        if org_key in job_types
    ]


class DemoRealNameConnector:
    """The demo's real-name system, in process (REALNAME_DEMO=true): the reference answers for the demo project,
    the same data every time, so a sync finds everybody in place and the head counts match."""

    def project(self, code: str) -> RemoteProject:
        if code != REALNAME_PROJECT_CODE:
            raise RealNameUnavailable(
                "realname_unknown_project",
                _(
                    "The real-name system does not know this project code. Check the project's real-name code."
                ),
            )
        return RemoteProject(code, "南山科技园二期项目", len(realname_demo_workers()))

    def workers(self, code: str) -> list[RemoteWorker]:
        self.project(code)
        return realname_demo_workers()


def seed_realname(accounts: DemoAccounts) -> RealNameSync | None:
    """Link the demo project to the demo real-name system and run its first sync (once)."""
    project = accounts.organisations["proj"]
    RealNameProject.objects.get_or_create(project=project, defaults={"code": REALNAME_PROJECT_CODE})
    if RealNameSync.objects.filter(project=project, ok=True).exists():
        return None
    return realname_sync(project=project, connector=DemoRealNameConnector())
