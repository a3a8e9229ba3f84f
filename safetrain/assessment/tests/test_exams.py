"""EXM-02..05, EXM-07: papers from rules (impossible rules refused), an independent draw per candidate, every answer
saved at once and never lost, resume, scoring per type, attempts, the server submitting at the deadline."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from conftest import make_user
from safetrain.assessment.exams import attempts_finalize_due, is_correct
from safetrain.assessment.models import ExamAnswer, ExamAttempt, PaperRule, Question
from safetrain.assessment.papers import paper_rule_from_preset, paper_rule_save
from safetrain.assessment.tests.conftest import put, right_positions, start, studied
from safetrain.catalog.models import RegionProfile
from safetrain.core.errors import DomainError
from safetrain.learning.models import LessonProgress
from safetrain.learning.services import enrolment_create


def test_exm_02_the_tianjin_preset_and_rules_the_bank_cannot_satisfy(programme):
    rule = paper_rule_from_preset(programme=programme)
    assert rule.sections == [
        {"kind": "single", "count": 40, "score": "1.5"},
        {"kind": "multiple", "count": 10, "score": "2"},
        {"kind": "true_false", "count": 20, "score": "1"},
    ]
    assert (rule.duration_minutes, rule.pass_mark, rule.attempts) == (120, Decimal("60.0"), 3)
    common = {"programme": programme, "name": "x", "duration_minutes": 60, "pass_mark": 60, "attempts": 2}
    with pytest.raises(DomainError) as refused:
        paper_rule_save(sections=[{"kind": "multiple", "count": 20, "score": 5}], **common)
    assert refused.value.code == "bank_too_small"
    assert "多选题：需要 20 道，题库中只有 15 道（还差 5 道）" in refused.value.message
    with pytest.raises(DomainError) as level:
        paper_rule_save(
            sections=[{"kind": "single", "count": 40, "score": 2.5, "difficulty": {"1": 30, "2": 5, "3": 5}}],
            **common,
        )
    assert "单选题，难度“易”：需要 30 道" in level.value.message
    with pytest.raises(DomainError) as point:
        paper_rule_save(
            sections=[
                {"kind": "single", "count": 40, "score": 2.5, "knowledge_points": {"不存在的知识点": 1}}
            ],
            **common,
        )
    assert "不存在的知识点" in point.value.message
    with pytest.raises(DomainError) as mark:
        paper_rule_save(
            sections=[{"kind": "true_false", "count": 10, "score": 1}], **{**common, "pass_mark": 60}
        )
    assert mark.value.code == "pass_mark"
    # Nothing changed: the preset is still the active rule.
    assert PaperRule.objects.get(programme=programme, is_active=True) == rule
    # Quotas the bank can meet, and a manual paper, are saved (and replace the active rule).
    by_level = paper_rule_save(
        sections=[
            {"kind": "single", "count": 30, "score": 2, "difficulty": {"1": 10, "2": 10, "3": 10}},
            {"kind": "true_false", "count": 40, "score": 1},
        ],
        **common,
    )
    assert by_level.is_active
    assert not PaperRule.objects.get(pk=rule.pk).is_active
    ids = list(programme.questions.filter(kind="true_false").values_list("pk", flat=True)[:10])
    manual = paper_rule_save(sections=[{"kind": "true_false", "score": 10}], question_ids=ids, **common)
    assert manual.sections == [{"kind": "true_false", "score": "10", "count": 10}]


def test_exm_02_every_candidate_gets_an_independent_draw_with_shuffled_options(programme, world, api_client):
    papers = []
    for name in ("甲", "乙", "丙"):
        learner = make_user(world.ent_nanshan, name=f"考生{name}")
        studied(learner, programme)
        papers.append(start(api_client(learner), programme).json())
    for paper in papers:
        kinds = [q["kind"] for q in paper["questions"]]
        assert (kinds.count("single"), kinds.count("multiple"), kinds.count("true_false")) == (40, 10, 20)
        assert paper["total"] == "100.0"
    sets = [frozenset(q["id"] for q in p["questions"]) for p in papers]
    assert len(set(sets)) == 3  # 40 of 50, 10 of 15, 20 of 50: the same draw twice is practically impossible
    shown = [q["options"] for q in papers[0]["questions"] if q["kind"] == "single"]
    original = [
        Question.objects.get(pk=q["id"]).options for q in papers[0]["questions"] if q["kind"] == "single"
    ]
    assert shown != original  # option order shuffled
    assert all(sorted(a) == sorted(b) for a, b in zip(shown, original, strict=True))


def test_exm_04_every_answer_is_saved_at_once_idempotent_and_the_paper_resumes(programme, world, api_client):
    learner = world.learner_nanshan
    studied(learner, programme)
    client = api_client(learner)
    paper = start(client, programme).json()
    questions = paper["questions"]
    singles = [q for q in questions if q["kind"] == "single"]
    multiples = [q for q in questions if q["kind"] == "multiple"]
    judges = [q for q in questions if q["kind"] == "true_false"]
    # Right: 30 single (45), 5 multiple (10), 20 true/false (20) = 75. Wrong: 10 single; partial multiple: 0.
    for q in singles[:30] + multiples[:5] + judges:
        assert put(client, paper, q, right_positions(q)).status_code == 200
    for q in singles[30:]:
        wrong = next(i for i in range(len(q["options"])) if [i] != right_positions(q))
        assert put(client, paper, q, [wrong]).status_code == 200
    for q in multiples[5:8]:
        assert (
            put(client, paper, q, right_positions(q)[:1]).status_code == 200
        )  # only part of the right options
    # The same answer sent again (a retry after a lost reply) changes nothing.
    assert put(client, paper, singles[0], right_positions(singles[0])).status_code == 200
    assert ExamAnswer.objects.filter(attempt_id=paper["id"]).count() == 30 + 10 + 5 + 3 + 20
    # A new page (reload, another browser, after a crash) gets the same paper with every answer.
    again = start(client, programme).json()
    assert again["id"] == paper["id"]
    assert [q["id"] for q in again["questions"]] == [q["id"] for q in questions]
    saved = {q["id"]: q["answer"] for q in again["questions"]}
    assert saved[singles[0]["id"]] == right_positions(singles[0])
    assert saved[multiples[9]["id"]] is None
    result = client.post(f"/api/v1/attempts/{paper['id']}/submit").json()
    assert (result["score"], result["passed"], result["submitted_by"]) == ("75.0", True, "candidate")
    # After submission nothing changes any more.
    late = put(client, paper, singles[31], right_positions(singles[31]))
    assert (late.status_code, late.json()["code"]) == (409, "attempt_submitted")


@pytest.mark.parametrize(
    ("kind", "answer", "given", "right"),
    [
        ("fill", [["预防为主"], ["综合治理", "综合治理方针"]], ["预防为主", " 综合治理方针 "], True),
        ("fill", [["ABC"]], ["ａｂｃ"], True),  # full-width and case do not matter
        ("fill", [["预防为主"], ["综合治理"]], ["预防为主", ""], False),
        ("multiple", [0, 2], [0, 2], True),
        ("multiple", [0, 2], [0], False),  # all or nothing
        ("multiple", [0, 2], [0, 1, 2], False),
        ("single", [1], [1], True),
        ("true_false", [0], [1], False),
    ],
)
def test_exm_03_scoring_of_each_question_type(kind, answer, given, right):
    assert is_correct(kind, answer, given) is right


def test_exm_03_the_server_submits_at_the_deadline_even_if_the_candidate_is_gone(
    programme, world, api_client
):
    learner = world.learner_nanshan
    studied(learner, programme)
    client = api_client(learner)
    paper = start(client, programme).json()
    first = paper["questions"][0]
    put(client, paper, first, right_positions(first))
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=121), tick=False):
        assert attempts_finalize_due() == 1  # the scheduled job, with nobody on the page
        attempt = ExamAttempt.objects.get(pk=paper["id"])
        assert (attempt.submitted_by, attempt.score, attempt.passed) == (
            "deadline",
            Decimal(first["score"]),
            False,
        )
        assert attempt.submitted_at == attempt.deadline
        assert attempts_finalize_due() == 0


def test_exm_03_an_open_paper_past_its_deadline_is_submitted_on_the_next_access(programme, world, api_client):
    learner = world.learner_nanshan
    studied(learner, programme)
    client = api_client(learner)
    paper = start(client, programme).json()
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=125), tick=False):
        client = api_client(learner)
        late = put(client, paper, paper["questions"][0], [0])
        assert (late.status_code, late.json()["code"]) == (409, "attempt_submitted")
        assert client.get(f"/api/v1/attempts/{paper['id']}").json()["submitted_by"] == "deadline"


def test_exm_05_attempts_are_counted_and_after_the_last_failure_the_learner_re_enrols(
    programme, world, api_client
):
    learner = world.learner_nanshan
    studied(learner, programme)
    client = api_client(learner)
    for number in (1, 2, 3):
        paper = start(client, programme).json()
        assert paper["number"] == number
        assert client.post(f"/api/v1/attempts/{paper['id']}/submit").json()["passed"] is False  # blank paper
    refused = start(client, programme)
    assert refused.status_code == 409
    assert refused.json()["code"] == "no_attempts_left"
    assert "重新报名" in refused.json()["message"]
    # Mock exams stay open: unlimited and never counted.
    mock = start(client, programme, kind="mock").json()
    assert (mock["number"], len(mock["questions"])) == (None, 70)
    assert ExamAttempt.objects.filter(kind="exam").count() == 3


def test_lrn_06_exm_07_the_exam_opens_after_study_on_a_computer_only_where_required(
    programme, world, api_client
):
    learner = world.learner_nanshan
    enrolment_create(learner=learner, programme=programme)
    client = api_client(learner)
    locked = start(client, programme)
    assert (locked.status_code, locked.json()["code"]) == (403, "exam_locked")
    assert "学习时长：0 / 2 分钟" in locked.json()["message"]
    LessonProgress.objects.create(
        enrolment=learner.enrolments.get(),
        lesson=programme.lesson,
        watched=[[0.0, 120.0]],
        credited_seconds=120,
        furthest_position=120,
        completed_at=timezone.now(),
    )
    RegionProfile.objects.filter(pk=programme.profile_id).update(mobile_exams_allowed=False)
    phone = client.post(
        f"/api/v1/exams/{programme.code}/attempts",
        {},
        content_type="application/json",
        HTTP_USER_AGENT="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148",
    )
    assert (phone.status_code, phone.json()["code"]) == (403, "desktop_only")
    assert "电脑" in phone.json()["message"]
    desktop = client.post(
        f"/api/v1/exams/{programme.code}/attempts",
        {},
        content_type="application/json",
        HTTP_USER_AGENT="Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0",
    )
    assert desktop.status_code == 200


def test_face_01_an_exam_attempt_starts_with_a_face_check(programme, world, api_client, settings):
    from safetrain.proctoring.tests.camera import TURN, frames_b64
    from safetrain.proctoring.tests.test_reference_photo import approved_photo, portrait

    settings.FACE_CHECK_AT_EXAM = True
    settings.FACE_CHALLENGES = ["turn"]
    learner = world.learner_nanshan
    studied(learner, programme)
    approved_photo(learner, portrait("obama.jpg"), reviewer=world.admin_nanshan)
    client = api_client(learner)
    refused = start(client, programme)
    assert (refused.status_code, refused.json()["code"]) == (403, "face_check_required")
    challenge = client.post(
        "/api/v1/face-challenges", {"purpose": "exam"}, content_type="application/json"
    ).json()
    check = client.post(
        "/api/v1/face-checks",
        {"challenge_id": challenge["id"], "frames": frames_b64(*TURN)},
        content_type="application/json",
    ).json()
    assert check["passed"] is True
    assert start(client, programme).status_code == 200


def test_acc_07_no_exam_with_a_photo_that_is_not_approved(programme, world, api_client, web_client, settings):
    from safetrain.proctoring.services import reference_photo_approve, reference_photo_set
    from safetrain.proctoring.tests.camera import TURN, frames_b64
    from safetrain.proctoring.tests.test_reference_photo import portrait

    settings.FACE_CHECK_AT_EXAM = True
    settings.FACE_CHALLENGES = ["turn"]
    learner = world.learner_nanshan
    studied(learner, programme)
    template = reference_photo_set(user=learner, data=portrait("obama.jpg"), actor=learner)
    page = web_client(learner).get(f"/assessment/exams/{programme.code}/start/").content.decode()
    assert "您的人脸照片正在审核，审核通过后才能学习和考试" in page
    assert "data-face-check" not in page
    client = api_client(learner)
    # A stand-in's own face, not yet reviewed, is no reference: the check does not even start.
    refused = client.post("/api/v1/face-challenges", {"purpose": "exam"}, content_type="application/json")
    assert (refused.status_code, refused.json()["code"]) == (403, "photo_pending")
    assert start(client, programme).json()["code"] == "face_check_required"
    reference_photo_approve(template=template, reviewer=world.admin_nanshan)
    challenge = client.post("/api/v1/face-challenges", {"purpose": "exam"}, content_type="application/json")
    check = client.post(
        "/api/v1/face-checks",
        {"challenge_id": challenge.json()["id"], "frames": frames_b64(*TURN)},
        content_type="application/json",
    ).json()
    assert check["passed"] is True
    assert start(client, programme).status_code == 200


def test_exm_03_the_exam_pages_start_show_the_paper_and_the_result(programme, world, web_client):
    learner = world.learner_nanshan
    studied(learner, programme)
    client = web_client(learner)
    desk = client.get("/assessment/exams/").content.decode()
    assert programme.name in desk
    assert 'data-testid="start-exam"' in desk
    guide = client.get(f"/assessment/exams/{programme.code}/start/").content.decode()
    assert "单选题 40 × 1.5" in guide
    started = client.post(f"/assessment/exams/{programme.code}/start/", {"kind": "exam"})
    attempt = ExamAttempt.objects.get()
    assert started["Location"] == f"/assessment/attempts/{attempt.pk}/"
    page = client.get(started["Location"]).content.decode()
    assert page.count('data-question="') == 70
    assert 'data-testid="countdown"' in page
    assert "继续考试" in client.get("/assessment/exams/").content.decode()
    client.post(f"/api/v1/attempts/{attempt.pk}/submit")
    result = client.get(f"/assessment/attempts/{attempt.pk}/")
    assert result["Location"] == f"/assessment/attempts/{attempt.pk}/result/"
    text = client.get(result["Location"]).content.decode()
    assert "未通过" in text
    assert "还有 2 次考试机会" in text
    # Someone else's attempt is not found.
    assert web_client(world.learner_futian).get(f"/assessment/attempts/{attempt.pk}/").status_code == 404


def test_exm_02_a_bank_emptied_after_the_rule_was_saved_gives_a_clear_refusal(programme, world, api_client):
    learner = world.learner_nanshan
    studied(learner, programme)
    paper_rule_from_preset(programme=programme)
    withdrawn = list(
        Question.objects.filter(programme=programme, kind="single").values_list("pk", flat=True)[:15]
    )
    Question.objects.filter(pk__in=withdrawn).update(is_active=False)  # 35 left, 40 needed
    refused = start(api_client(learner), programme)
    assert (refused.status_code, refused.json()["code"]) == (400, "paper_unavailable")
    assert not ExamAttempt.objects.exists()


def test_exm_06_no_mock_exam_while_an_exam_is_open(programme, world, api_client):
    learner = world.learner_nanshan
    studied(learner, programme)
    client = api_client(learner)
    exam = start(client, programme).json()
    refused = start(client, programme, kind="mock")
    assert (refused.status_code, refused.json()["code"]) == (409, "exam_in_progress")
    client.post(f"/api/v1/attempts/{exam['id']}/submit")
    assert start(client, programme, kind="mock").status_code == 200


def test_exm_04_a_paper_keeps_its_questions_when_the_bank_is_edited_later(programme, world, api_client):
    learner = world.learner_nanshan
    studied(learner, programme)
    client = api_client(learner)
    paper = start(client, programme).json()
    first = paper["questions"][0]
    right = right_positions(first)
    stored = Question.objects.get(pk=first["id"])
    Question.objects.filter(pk=stored.pk).update(options=list(reversed(stored.options)), stem="改过的题干")
    again = client.get(f"/api/v1/attempts/{paper['id']}").json()["questions"][0]
    assert (again["stem"], again["options"]) == (first["stem"], first["options"])
    put(client, paper, first, right)
    result = client.post(f"/api/v1/attempts/{paper['id']}/submit").json()
    assert result["score"] == first["score"]  # scored against the key the candidate saw


def test_exm_03_one_broken_paper_does_not_keep_the_others_open(programme, world, api_client):
    papers = []
    for name in ("甲", "乙"):
        learner = make_user(world.ent_nanshan, name=f"考生{name}")
        studied(learner, programme)
        papers.append(start(api_client(learner), programme).json())
    ExamAttempt.objects.filter(pk=papers[0]["id"]).update(items=[{"broken": True}])
    ExamAnswer.objects.create(
        attempt_id=papers[0]["id"], question=Question.objects.first(), value=[0], saved_at=timezone.now()
    )
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=121), tick=False):
        assert attempts_finalize_due() == 1
    assert ExamAttempt.objects.get(pk=papers[1]["id"]).submitted_by == "deadline"


def test_exm_01_a_question_picture_is_shown_to_its_candidate_only(programme, world, api_client, web_client):
    import io

    from django.core.files.base import ContentFile
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(buffer, "PNG")
    for question in Question.objects.filter(programme=programme, kind="single"):
        question.image.save(f"q{question.pk}.png", ContentFile(buffer.getvalue()), save=True)
    learner = world.learner_nanshan
    studied(learner, programme)
    paper = start(api_client(learner), programme).json()
    single = next(q for q in paper["questions"] if q["kind"] == "single")
    assert single["image"] == f"/assessment/attempts/{paper['id']}/images/{single['id']}/"
    own = web_client(learner).get(single["image"])
    assert own.status_code == 200
    assert own.content[:4] == b"\x89PNG"
    assert web_client(world.learner_futian).get(single["image"]).status_code == 404


def test_exm_02_operators_edit_the_paper_rule_on_its_page(programme, world, web_client):
    client = web_client(world.operator)
    url = f"/assessment/questions/{programme.code}/rule/"
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="single-count"' in page.content.decode()
    form = {
        "name": "年度考试",
        "duration_minutes": "90",
        "pass_mark": "60",
        "attempts": "2",
        "shuffle_options": "on",
        "single-count": "30",
        "single-score": "2",
        "true_false-count": "60",
        "true_false-score": "1",
    }
    # The bank has 50 true/false questions: refused with what is missing, nothing saved, the values kept.
    refused = client.post(url, form)
    assert refused.status_code == 400
    body = refused.content.decode()
    assert "题库" in body
    assert "还差 10 道" in body
    assert 'value="60"' in body
    assert not PaperRule.objects.filter(programme=programme).exists()
    bad_points = client.post(url, {**form, "true_false-count": "20", "single-points": "法规 5"})
    assert bad_points.status_code == 400
    assert "法规 5" in bad_points.content.decode()
    saved = client.post(
        url, {**form, "true_false-count": "20", "single-d1": "", "single-points": "高处作业：3"}
    )
    assert saved.status_code == 302
    rule = PaperRule.objects.get(programme=programme, is_active=True)
    assert rule.sections == [
        {"kind": "single", "score": "2", "count": 30, "knowledge_points": {"高处作业": 3}},
        {"kind": "true_false", "score": "1", "count": 20},
    ]
    assert (rule.duration_minutes, rule.pass_mark, rule.attempts, rule.name) == (
        90,
        Decimal("60.0"),
        2,
        "年度考试",
    )
    assert "80" in client.get(url).content.decode()  # the summary shows the total: 30 x 2 + 20 x 1
    assert client.post(url, {"action": "preset"}).status_code == 302
    assert PaperRule.objects.get(programme=programme, is_active=True).preset == "tianjin"
    assert web_client(world.admin_nanshan).get(url).status_code == 403
