"""The demo lets every flow be walked (issue 27): a short programme a learner finishes in minutes (lessons, quizzes,
mock exam, exam, certificate), quiz banks on every demo course, an open satisfaction survey, a learner waiting for
the offline total test's score, and the real-name sync working in demo mode.

The walk itself runs in process on the demo's own seeding functions (fast: no videos to transcode); the rest reads
the `make run` demo (seed_demo on SQLite, the production server) that the other demo tests share, changing nothing
that they count."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import zoneinfo

import time_machine
from django.test import override_settings

from safetrain.assessment.demo_bank import seed_short_exam
from safetrain.assessment.exams import answer_save, attempt_submit, exam_start
from safetrain.assessment.models import AttemptKind, QuestionKind
from safetrain.catalog.demo import QUICK_PROGRAMME, seed_walkable_programmes
from safetrain.catalog.models import Video, VideoStatus
from safetrain.certification.models import Certificate
from safetrain.learning.demo import QUIZZES, seed_quiz_questions
from safetrain.learning.models import QuizQuestion
from safetrain.learning.services import enrolment_create
from tests.demo_server import ROOT, manage

START = dt.datetime(2026, 11, 23, 9, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))


def demo_facts(server, script: str) -> dict:
    """Run `script` (which prints one JSON line last) in the demo's database."""
    return json.loads(manage(server.env, "shell", "-c", script).strip().splitlines()[-1])


# The walk, in process ------------------------------------------------------------------------------------------


def ready_video(seconds: float) -> Video:
    # Crediting needs only the duration: the demo's clips, without transcoding them.
    return Video.objects.create(
        title=f"演示短片 {seconds}s",
        original="videos/originals/demo.mp4",
        status=VideoStatus.READY,
        duration_seconds=seconds,
        hls_prefix="videos/hls/demo",
    )


def play_lesson(client, clock, lesson) -> dict:
    """Open the lesson in the player and report playback to its end, ten seconds at a time, as the page does."""
    opened = client.post("/api/v1/study-sessions", {"lesson_id": lesson.pk}, content_type="application/json")
    assert opened.status_code == 200, opened.content
    session = opened.json()
    position, seq, data = session["resume_position"], 0, {}
    while position < lesson.duration_seconds:
        step = min(10.0, lesson.duration_seconds - position)
        clock.shift(step)
        position, seq = position + step, seq + 1
        beat = client.post(
            f"/api/v1/study-sessions/{session['id']}/heartbeats",
            {"seq": seq, "position": position, "playing": True, "visible": True, "focused": True, "rate": 1},
            content_type="application/json",
        )
        assert beat.status_code == 200, beat.content
        data = beat.json()
    return data


def pass_quiz(client, lesson) -> dict:
    started = client.post(f"/api/v1/lessons/{lesson.pk}/quiz", content_type="application/json")
    assert started.status_code == 200, started.content
    quiz = started.json()
    right = {q.pk: q.answer for q in QuizQuestion.objects.filter(pk__in=[q["id"] for q in quiz["questions"]])}
    submitted = client.post(
        f"/api/v1/quiz-attempts/{quiz['id']}/submit",
        {"answers": {str(pk): answer for pk, answer in right.items()}},
        content_type="application/json",
    )
    assert submitted.status_code == 200, submitted.content
    return submitted.json()


def sit(learner, programme, kind: str):
    """Start a paper and answer every question right through the exam services, then hand it in."""
    with override_settings(FACE_CHECK_AT_EXAM=False):
        attempt = exam_start(learner=learner, programme=programme, kind=kind)
    for item in attempt.items:
        if item["kind"] == QuestionKind.FILL:
            value = [accepted[0] for accepted in item["answer"]]
        else:
            value = [place for place, original in enumerate(item["order"]) if original in item["answer"]]
        answer_save(learner=learner, attempt_id=attempt.pk, question_id=item["question"], value=value)
    return attempt_submit(attempt_id=attempt.pk, learner=learner)


def test_lrn_05_qz_01_a_learner_finishes_the_short_demo_programme_in_minutes_up_to_the_certificate(
    world, api_client, django_capture_on_commit_callbacks
):
    videos = {"general": ready_video(24), "cases": ready_video(20), "law": ready_video(20)}
    programme = seed_walkable_programmes(videos)[QUICK_PROGRAMME]
    assert seed_quiz_questions() == len(QUIZZES["DEMO-QUICK"])  # the one demo course that exists here
    assert seed_quiz_questions() == 0  # once
    rule = seed_short_exam(programme)
    assert sum(s["count"] for s in rule.sections) == 10
    assert programme.required_minutes * 60 <= sum(v.duration_seconds for v in videos.values())
    learner = world.learner_nanshan
    enrolment = enrolment_create(learner=learner, programme=programme)
    lessons = [ls for ch in programme.courses.get().chapters.all() for ls in ch.lessons.all()]
    assert len(lessons) == 3
    client = api_client(learner)

    with time_machine.travel(START, tick=False) as clock:
        for lesson in lessons:
            played = play_lesson(client, clock, lesson)
            assert played["completed"], played
            assert played["next_action"] == "quiz"  # watched: its quiz is what remains
            assert pass_quiz(client, lesson)["passed"]
        # The mock exam: the same ten-question paper, never counted, no certificate.
        with django_capture_on_commit_callbacks(execute=True):
            mock = sit(learner, programme, AttemptKind.MOCK)
        assert mock.passed
        assert not Certificate.objects.filter(enrolment=enrolment).exists()
        with django_capture_on_commit_callbacks(execute=True):
            exam = sit(learner, programme, AttemptKind.EXAM)
    assert exam.passed
    assert len(exam.items) == 10
    certificate = Certificate.objects.get(enrolment=enrolment)
    assert certificate.programme_name == "演示：15 分钟安全速学（可完整走通）"


# The `make run` demo ---------------------------------------------------------------------------------------------

QUICK_FACTS = """
import json
from safetrain.accounts.models import User, id_index_of
from safetrain.assessment.papers import paper_draw
from safetrain.assessment.exams import active_rule, unlock_problems
from safetrain.catalog.models import Course, Programme
from safetrain.learning.models import Enrolment, QuizQuestion
from safetrain.learning.quizzes import quiz_required
programme = Programme.objects.get(code="demo-quick-15min")
course = programme.courses.get()
lessons = [ls for ch in course.chapters.all() for ls in ch.lessons.all()]
learners = {u: list(Enrolment.objects.filter(learner__id_index=id_index_of(u)).values_list("programme__code", flat=True))
            for u in json.loads('''USERNAMES''')}
rule = active_rule(programme)
e = Enrolment.objects.filter(programme=programme).first()
print(json.dumps({
    "published": programme.is_published,
    "name": programme.name,
    "required_seconds": programme.required_minutes * 60,
    "video_seconds": sum(ls.duration_seconds for ls in lessons),
    "lessons": len(lessons),
    "quiz_on_every_lesson": all(quiz_required(ls) for ls in lessons),
    "enrolments": learners,
    "paper": len(paper_draw(rule)),
    "pass_mark": float(rule.pass_mark),
    "attempts": rule.attempts,
    "todo": [str(p) for p in unlock_problems(e)],
    "courses_without_quiz": sorted(
        c.code for c in Course.objects.filter(status="published")
        if not QuizQuestion.objects.filter(course=c, is_active=True).exists()),
}, ensure_ascii=False))
"""


def test_lrn_05_qz_01_the_demo_has_a_walkable_programme_for_its_quick_learners_and_quizzes_on_every_course(
    demo_server,
):
    quick = [a for a in demo_server.accounts if a["key"].startswith("quick")]
    assert len(quick) == 3
    assert {a["organisation"] for a in quick} == {"广州市明达商贸有限公司"}
    facts = demo_facts(
        demo_server, QUICK_FACTS.replace("USERNAMES", json.dumps([a["username"] for a in quick]))
    )
    assert facts["published"]
    assert facts["name"] == "演示：15 分钟安全速学（可完整走通）"
    # Watching the lessons once meets the hour rule (the 32-hour programme needs 1,440 minutes).
    assert 0 < facts["required_seconds"] <= facts["video_seconds"] < 5 * 60
    assert facts["lessons"] == 3
    assert facts["quiz_on_every_lesson"]
    # The quick learners are in the short programme only, and have everything still to do.
    assert all(codes == ["demo-quick-15min"] for codes in facts["enrolments"].values())
    assert facts["todo"]
    assert (facts["paper"], facts["pass_mark"], facts["attempts"]) == (10, 60.0, 3)
    # QZ-01: every demo course asks its lesson quiz (tests may switch a bank off, never the seed).
    assert facts["courses_without_quiz"] in ([], ["TJ-CE"])


SURVEY_FACTS = """
import json
from safetrain.accounts.models import User, id_index_of
from safetrain.orgs.models import Organisation
from safetrain.regulator.models import Survey
from safetrain.regulator.surveys import open_survey_for, survey_results, items
survey = Survey.objects.get()
quick = User.objects.get(id_index=id_index_of("{username}"))
regulator = User.objects.get(id_index=id_index_of("{regulator}"))
results = survey_results(survey)
scoped = survey_results(survey, scope=Organisation.objects.supervised_by(regulator))
print(json.dumps({{
    "open": survey.is_open(),
    "invites_quick": open_survey_for(quick) == survey,
    "items_for_quick": len(items(survey, quick)),
    "responses": results.responses,
    "invited": results.invited,
    "platform_marks": results.platform.marks,
    "courses": [(r.label, r.percent, r.flagged) for r in results.courses],
    "shenzhen_responses": scoped.responses,
}}, ensure_ascii=False))
"""


def test_reg_04_the_demo_survey_is_open_invites_the_demo_learners_and_has_results(demo_server):
    quick = next(a for a in demo_server.accounts if a["key"] == "quick03")
    regulator = next(a for a in demo_server.accounts if a["organisation"] == "深圳市应急管理局")
    facts = demo_facts(
        demo_server, SURVEY_FACTS.format(username=quick["username"], regulator=regulator["username"])
    )
    assert facts["open"]
    assert facts["invites_quick"]
    assert facts["items_for_quick"] >= 1  # the platform question, before any study
    assert facts["responses"] == 2
    assert facts["invited"] >= 19  # every learner enrolled this year (the project's workers wait for a class)
    assert facts["platform_marks"] == 2
    assert any(flagged for _label, _percent, flagged in facts["courses"])  # a course under 80 % is flagged
    assert facts["shenzhen_responses"] == 2  # both answers come from the Shenzhen project


OFFLINE_FACTS = """
import json
from safetrain.accounts.models import id_index_of
from safetrain.assessment import offline
from safetrain.assessment.models import OfflineTestPaper
paper = OfflineTestPaper.objects.get(programme__code="demo-sx-offline-test")
sheet = offline.score_sheet(paper)
print(json.dumps({{
    "questions": len(paper.items),
    "unit": paper.organisation.name,
    "open": [row["enrolment"].learner.id_index == id_index_of("{username}") for row in sheet if row["open"]],
    "problems": [str(p) for row in sheet for p in row["problems"]],
    "state": [row["status"].state for row in sheet],
}}, ensure_ascii=False))
"""


def test_exm_08_a_demo_learner_waits_for_the_offline_total_test_score(demo_server):
    learner = next(a for a in demo_server.accounts if a["key"] == "offline01")
    assert learner["organisation"] == "太原市并州机械制造有限公司"
    facts = demo_facts(demo_server, OFFLINE_FACTS.format(username=learner["username"]))
    assert facts["questions"] >= 100
    assert facts["open"] == [True]  # one candidate, and the score entry is open for them
    assert facts["problems"] == []
    assert facts["state"] == ["pending"]


REALNAME_FACTS = """
import json
from django.conf import settings
from safetrain.enterprise.models import Personnel, RealNameSync
from safetrain.enterprise.realname_sync import realname_sync
from safetrain.orgs.models import Organisation
project = Organisation.objects.get(name="南山科技园二期项目")
first = RealNameSync.objects.filter(project=project).order_by("pk").first()
again = realname_sync(project=project)  # as the people page's button: the connector the settings choose
print(json.dumps({
    "demo": settings.REALNAME_DEMO,
    "first": [first.first, first.ok, first.joined, first.left, first.unchanged, first.counts_match],
    "again": [again.first, again.ok, again.error, again.joined, again.left, again.changed, again.counts_match],
    "on_site": Personnel.objects.filter(organisation=project, on_site=True).count(),
}, ensure_ascii=False))
"""


def test_ent_03_int_02_the_demo_project_syncs_with_the_demo_real_name_system(demo_server):
    facts = demo_facts(demo_server, REALNAME_FACTS)
    assert facts["demo"]  # `make run`'s switch, as the demo server has it
    # seed_demo ran the first sync: everybody in place, nobody new, the head counts equal.
    assert facts["first"] == [True, True, 0, 0, 15, True]
    # A manual sync asks the demo system and changes nothing.
    assert facts["again"] == [False, True, "", 0, 0, 0, True]
    assert facts["on_site"] == 15


def test_ops_01_make_run_and_make_dev_sync_with_the_demo_real_name_system():
    for target in ("run", "dev"):
        plan = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, check=True)
        assert "REALNAME_DEMO=true" in plan.stdout
