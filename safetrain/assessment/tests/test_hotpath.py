"""EXM-03, EXM-04 at exam-day scale: exam answers with the paper's key are saved before the page stack
(assessment.hotpath) through the production WSGI entry, exactly as the full stack saves them; everything that is not
the plain case goes to the full stack, which answers with the API's status and message."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.utils import timezone

from conftest import make_user
from safetrain.accounts.models import AuthSession, User
from safetrain.assessment.exams import is_correct
from safetrain.assessment.models import ExamAnswer, ExamAttempt, ExamRecord, Question, QuestionKind
from safetrain.assessment.tests.conftest import right_positions, start, studied
from safetrain.core.hotpath.keys import page_key
from tests.wsgi_client import wsgi_call

ROW = ("id", "value", "saved_at", "correct", "score")


def sit(client_for, learner, programme):
    studied(learner, programme)
    client = client_for(learner)
    paper = start(client, programme).json()
    assert paper["page_key"]
    return client, paper


@pytest.fixture
def sitting(programme, world, api_client):
    """A candidate signed in with a bearer token, on an open exam paper."""
    return sit(api_client, world.learner_nanshan, programme)


def put(client, paper, question_id, value=None, *, key="", body=None):
    headers = {"X-Exam-Key": key} if key else {}
    path = f"/api/v1/attempts/{paper['id']}/answers/{question_id}"
    return wsgi_call(client, "PUT", path, {"value": value} if body is None else body, **headers)


def refused_alike(client, paper, question_id, value=None, *, key, body=None):
    """The full stack answers the request with the key as it answers it without: a refusal, nothing written."""
    before = list(ExamAnswer.objects.filter(attempt_id=paper["id"]).values(*ROW))
    with_key = put(client, paper, question_id, value, key=key, body=body)
    without = put(client, paper, question_id, value, body=body)
    assert with_key.delegated
    assert (with_key.status, with_key.json()) == (without.status, without.json())
    assert with_key.status >= 400
    assert list(ExamAnswer.objects.filter(attempt_id=paper["id"]).values(*ROW)) == before
    return with_key


def row(paper, question_id):
    return ExamAnswer.objects.filter(attempt_id=paper["id"], question_id=question_id).values(*ROW).first()


def hot(answer):
    """Answered by the hot path."""
    return not answer.delegated and answer.headers["Server-Timing"].startswith("exam_answer;dur=")


def fill_question(programme, paper):
    """A fill-in question added to the paper as drawn (the demo bank has none)."""
    question = Question.objects.create(
        programme=programme,
        kind=QuestionKind.FILL,
        stem="安全生产工作坚持____、____的方针。",
        answer=[["安全第一"], ["预防为主"]],
    )
    attempt = ExamAttempt.objects.get(pk=paper["id"])
    attempt.items = [
        *attempt.items,
        {
            "question": question.pk,
            "kind": "fill",
            "stem": question.stem,
            "image": "",
            "options": [],
            "answer": question.answer,
            "order": [],
            "score": "2",
        },
    ]
    attempt.save(update_fields=["items"])
    return question.pk


def test_exm_04_both_paths_save_an_answer_identically(programme, world, api_client):
    """The same answers through the hot path and through the full stack: the same rows (new and replaced, each
    kind of question, an answer cleared) and the same JSON."""
    with time_machine.travel(
        timezone.now(), tick=False
    ):  # one clock for both paths: saved_at compares exactly
        client, paper = sit(api_client, world.learner_nanshan, programme)
        key = paper["page_key"]
        by_kind = {q["kind"]: q["id"] for q in reversed(paper["questions"])}
        cases = [
            (by_kind["single"], [2], [0]),
            (by_kind["multiple"], [0, 3], [1]),
            (by_kind["true_false"], [1], []),
            (fill_question(programme, paper), [" 安全第一 ", "预防为主"], ["x" * 250, ""]),
        ]
        for question, first, second in cases:
            full = put(client, paper, question, first)  # a new answer
            assert (full.status, full.delegated) == (200, True)
            full_row = row(paper, question)
            ExamAnswer.objects.filter(pk=full_row["id"]).delete()
            fast = put(client, paper, question, first, key=key)
            assert hot(fast), fast.content
            fast_row = row(paper, question)
            assert {**fast_row, "id": None} == {**full_row, "id": None}
            assert fast.status == 200
            assert (
                fast.json() == full.json() == {"question_id": question, "saved_at": fast.json()["saved_at"]}
            )
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z", fast.json()["saved_at"])
            # The answer replaced: the same row, the new value and time, nothing else touched.
            full = put(client, paper, question, second)
            full_row = row(paper, question)
            ExamAnswer.objects.filter(pk=full_row["id"]).update(value=first)
            fast = put(client, paper, question, second, key=key)
            assert hot(fast)
            assert row(paper, question) == full_row
            assert fast.json() == full.json()
        fill = row(paper, cases[3][0])["value"]
        assert fill == ["x" * 200, ""]  # stripped and cut as the full stack does


def test_exm_03_exm_04_a_paper_answered_on_the_hot_path_is_scored_from_the_stored_answers(sitting):
    client, paper = sitting
    key = paper["page_key"]
    questions = paper["questions"]
    singles = [q for q in questions if q["kind"] == "single"]
    multiples = [q for q in questions if q["kind"] == "multiple"]
    judges = [q for q in questions if q["kind"] == "true_false"]
    # Right: 30 single (45), 5 multiple (10), 20 true/false (20) = 75; wrong: 10 single, 3 partial multiple.
    given = {q["id"]: right_positions(q) for q in singles[:30] + multiples[:5] + judges}
    for q in singles[30:]:
        given[q["id"]] = [next(i for i in range(len(q["options"])) if [i] != right_positions(q))]
    for q in multiples[5:8]:
        given[q["id"]] = right_positions(q)[:1]
    for question, value in given.items():
        assert hot(put(client, paper, question, value, key=key))
    assert hot(put(client, paper, singles[0]["id"], right_positions(singles[0]), key=key))  # a retry
    assert ExamAnswer.objects.filter(attempt_id=paper["id"]).count() == len(given) == 68
    result = client.post(f"/api/v1/attempts/{paper['id']}/submit").json()
    assert (result["score"], result["passed"]) == ("75.0", True)
    attempt = ExamAttempt.objects.get(pk=paper["id"])
    items = {item["question"]: item for item in attempt.items}
    recomputed = Decimal(0)
    for answer in ExamAnswer.objects.filter(attempt=attempt):
        item = items[answer.question_id]
        assert answer.correct is is_correct(item["kind"], item["answer"], answer.value)
        assert answer.score == (Decimal(item["score"]) if answer.correct else Decimal(0))
        recomputed += answer.score
    assert recomputed == attempt.score == Decimal("75.0")
    record = ExamRecord.objects.get(attempt=attempt)
    assert len(record.answers) == 68
    assert record.score == attempt.score


def test_exm_04_a_browser_page_sends_its_key_and_its_answers_skip_the_page_stack(
    programme, world, web_client
):
    learner = world.learner_nanshan
    studied(learner, programme)
    client = web_client(learner)
    client.post(f"/assessment/exams/{programme.code}/start/", {"kind": "exam"})
    attempt = ExamAttempt.objects.get()
    page = client.get(f"/assessment/attempts/{attempt.pk}/").content.decode()
    key = re.search(r'data-exam-key="([0-9a-f]+)"', page).group(1)
    signin = AuthSession.objects.get(user=learner, ended_at__isnull=True)
    assert key == page_key("exam", attempt.pk, signin.pk)
    paper = {"id": attempt.pk}
    question = attempt.items[0]["question"]
    answer = put(client, paper, question, [0], key=key)  # no CSRF token needed with the key
    assert hot(answer)
    assert answer.status == 200
    assert row(paper, question)["value"] == [attempt.items[0]["order"][0]]
    # Without the key the full stack answers, CSRF checked as before.
    assert put(client, paper, question, [1]).status == 403
    client.cookies["csrftoken"] = "a" * 32
    answer = wsgi_call(
        client,
        "PUT",
        f"/api/v1/attempts/{attempt.pk}/answers/{question}",
        {"value": [1]},
        **{"X-CSRFToken": "a" * 32},
    )
    assert (answer.status, answer.delegated) == (200, True)
    # The browser session's cookie sent as a bearer token is not that sign-in's credential kind.
    bearer = Client(HTTP_AUTHORIZATION=f"Bearer {client.cookies['sessionid'].value}")
    refused_alike(bearer, paper, question, [0], key=key)


def test_exm_04_the_api_hands_the_key_to_the_sign_in_that_asked_only(sitting, world, api_client):
    client, paper = sitting
    signin = AuthSession.objects.get(user=world.learner_nanshan, ended_at__isnull=True, kind="api")
    assert paper["page_key"] == page_key("exam", paper["id"], signin.pk)
    again = client.get(f"/api/v1/attempts/{paper['id']}").json()
    assert again["page_key"] == paper["page_key"]
    other = api_client(world.learner_nanshan)  # another sign-in of the same learner
    assert other.get(f"/api/v1/attempts/{paper['id']}").json()["page_key"] not in ("", paper["page_key"])
    # That sign-in ended the first one (one active sign-in per learner, ACC-05): the first one's key does not
    # open the paper to the new sign-in's credential.
    stale_key = put(other, paper, paper["questions"][0]["id"], [0], key=paper["page_key"])
    assert (stale_key.status, stale_key.delegated) == (200, True)
    assert other.post(f"/api/v1/attempts/{paper['id']}/submit").json()["page_key"] == ""


# Everything that is not the plain case: the full stack answers, with the API's status and message --------------


def test_exm_04_a_wrong_or_foreign_key_goes_to_the_full_stack(sitting, programme, world, api_client):
    client, paper = sitting
    question = paper["questions"][0]["id"]
    wrong = put(client, paper, question, [0], key="0" * 64)
    assert (wrong.status, wrong.delegated) == (
        200,
        True,
    )  # the full stack saves it (no key needed there)
    other_client, other_paper = sit(api_client, make_user(world.ent_nanshan, name="考生乙"), programme)
    foreign = put(client, paper, question, [1], key=other_paper["page_key"])
    assert (foreign.status, foreign.delegated) == (200, True)
    assert row(paper, question)["value"] == [paper_order(paper, question)[1]]
    # Another candidate's credential with this paper's key: not found there.
    stranger = put(other_client, paper, question, [0], key=paper["page_key"])
    assert (stranger.status, stranger.delegated) == (404, True)
    assert stranger.json()["code"] == "attempt_not_found"
    # No credential at all.
    refused_alike(Client(), paper, question, [0], key=paper["page_key"])
    assert row(paper, question)["value"] == [paper_order(paper, question)[1]]


def paper_order(paper, question):
    return next(
        i["order"] for i in ExamAttempt.objects.get(pk=paper["id"]).items if i["question"] == question
    )


def test_exm_04_refused_answers_get_the_full_stacks_status_and_message(sitting, programme):
    client, paper = sitting
    key = paper["page_key"]
    single = next(q for q in paper["questions"] if q["kind"] == "single")
    bad = put(client, paper, single["id"], [99], key=key)
    assert (bad.status, bad.delegated, bad.json()["code"]) == (400, True, "invalid_answer")
    assert bad.json()["message"] == "所选选项不存在。"
    two = put(client, paper, single["id"], [0, 1], key=key)
    assert (two.status, two.json()["message"]) == (400, "只能选择一个选项。")
    drawn = {q["id"] for q in paper["questions"]}
    elsewhere = Question.objects.filter(programme=programme).exclude(pk__in=drawn).first()
    missing = put(client, paper, elsewhere.pk, [0], key=key)
    assert (missing.status, missing.delegated, missing.json()["message"]) == (
        404,
        True,
        "该题不在您的试卷中。",
    )
    assert refused_alike(client, paper, single["id"], body={"value": "A"}, key=key).status == 422
    assert refused_alike(client, paper, single["id"], list(range(11)), key=key).status == 422
    refused_alike(client, paper, single["id"], body=b"{value", key=key)
    assert not ExamAnswer.objects.filter(attempt_id=paper["id"]).exists()


def test_exm_03_a_submitted_paper_or_one_out_of_time_is_refused_by_the_full_stack(
    sitting, programme, world, api_client
):
    client, paper = sitting
    question = paper["questions"][0]["id"]
    client.post(f"/api/v1/attempts/{paper['id']}/submit")
    late = put(client, paper, question, [0], key=paper["page_key"])
    assert (late.status, late.delegated, late.json()["code"]) == (409, True, "attempt_submitted")
    # Time up: the full stack submits the paper (by the deadline), then refuses the answer.
    client, paper = sit(api_client, make_user(world.ent_nanshan, name="考生丙"), programme)
    ExamAttempt.objects.filter(pk=paper["id"]).update(deadline=timezone.now() - dt.timedelta(seconds=1))
    late = put(client, paper, question, [0], key=paper["page_key"])
    assert (late.status, late.delegated, late.json()["code"]) == (409, True, "attempt_submitted")
    attempt = ExamAttempt.objects.get(pk=paper["id"])
    assert (attempt.submitted_by, attempt.submitted_at) == ("deadline", attempt.deadline)
    assert not ExamAnswer.objects.filter(attempt=attempt).exists()


def test_face_01_an_answer_while_an_identity_check_is_due_goes_to_the_full_stack(sitting, settings):
    client, paper = sitting
    settings.FACE_CHECK_AT_EXAM = True
    ExamAttempt.objects.filter(pk=paper["id"]).update(face_due_at=timezone.now() - dt.timedelta(seconds=5))
    question = paper["questions"][0]["id"]
    answer = put(client, paper, question, [0], key=paper["page_key"])
    assert (answer.status, answer.delegated) == (200, True)  # saved there, whatever the check
    assert row(paper, question) is not None


def test_acc_03_acc_05_an_ended_sign_in_or_a_password_to_change_goes_to_the_full_stack(
    sitting, programme, world, api_client
):
    client, paper = sitting
    question = paper["questions"][0]["id"]
    User.objects.filter(pk=world.learner_nanshan.pk).update(must_change_password=True)
    refused = put(client, paper, question, [0], key=paper["page_key"])
    assert (refused.status, refused.delegated, refused.json()["code"]) == (
        403,
        True,
        "must_change_password",
    )
    User.objects.filter(pk=world.learner_nanshan.pk).update(must_change_password=False)
    assert hot(put(client, paper, question, [0], key=paper["page_key"]))
    client.post("/api/v1/auth/logout")
    ended = put(client, paper, question, [1], key=paper["page_key"])
    assert (ended.status, ended.delegated, ended.json()["code"]) == (401, True, "session_ended")
    learner = make_user(world.ent_nanshan, name="考生丁")
    client, paper = sit(api_client, learner, programme)
    User.objects.filter(pk=learner.pk).update(is_active=False)
    refused_alike(client, paper, question, [0], key=paper["page_key"])


def test_acc_04_an_api_token_not_seen_for_a_while_is_kept_alive_by_the_hot_path(sitting, settings):
    """Every rule of a bearer token is the gate's: the hot path touches it itself, as the API's authentication."""
    client, paper = sitting
    question = paper["questions"][0]["id"]
    signin = AuthSession.objects.get(user__enrolments__exam_attempts=paper["id"], ended_at__isnull=True)
    long_ago = timezone.now() - dt.timedelta(seconds=settings.HEARTBEAT_ACCOUNT_CHECK_SECONDS + 5)
    AuthSession.objects.filter(pk=signin.pk).update(last_seen_at=long_ago)
    stale = put(client, paper, question, [0], key=paper["page_key"])
    assert hot(stale)
    assert stale.status == 200
    assert AuthSession.objects.get(pk=signin.pk).last_seen_at > long_ago
    assert row(paper, question)["value"] is not None
    assert hot(put(client, paper, question, [1], key=paper["page_key"]))


def test_acc_04_a_browser_session_not_seen_for_a_while_is_seen_by_the_full_stack_and_kept_alive(
    programme, world, web_client, settings
):
    """A browser session's session store and second factor are the full stack's: it sees the sign-in at least every
    HEARTBEAT_ACCOUNT_CHECK_SECONDS."""
    learner = world.learner_nanshan
    studied(learner, programme)
    client = web_client(learner)
    client.post(f"/assessment/exams/{programme.code}/start/", {"kind": "exam"})
    attempt = ExamAttempt.objects.get()
    signin = AuthSession.objects.get(user=learner, ended_at__isnull=True)
    key, paper, question = (
        page_key("exam", attempt.pk, signin.pk),
        {"id": attempt.pk},
        attempt.items[0]["question"],
    )
    long_ago = timezone.now() - dt.timedelta(seconds=settings.HEARTBEAT_ACCOUNT_CHECK_SECONDS + 5)
    AuthSession.objects.filter(pk=signin.pk).update(last_seen_at=long_ago)
    client.cookies["csrftoken"] = "a" * 32  # (the page sends its CSRF token too, for the full stack)
    path = f"/api/v1/attempts/{attempt.pk}/answers/{question}"
    stale = wsgi_call(client, "PUT", path, {"value": [0]}, **{"X-Exam-Key": key, "X-CSRFToken": "a" * 32})
    assert (stale.status, stale.delegated) == (200, True)
    assert AuthSession.objects.get(pk=signin.pk).last_seen_at > long_ago
    assert hot(put(client, paper, question, [1], key=key))


def test_exm_04_an_acknowledged_answer_is_committed_synchronously(sitting):
    """Answers are never acknowledged before they are on disk: the hot path leaves PostgreSQL's
    synchronous_commit as it is (a SET LOCAL would still show inside the test's transaction)."""
    client, paper = sitting
    question = paper["questions"][0]["id"]
    assert hot(put(client, paper, question, [0], key=paper["page_key"]))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone()[0] == "on"


def test_ops_06_control_characters_and_odd_encodings_in_an_answer_are_the_full_stacks_to_refuse(
    programme, sitting
):
    """A fill-in answer holding a control character (raw or escaped), a lone surrogate, a body that is not UTF-8 or
    a query string: the full stack refuses it (400, in Chinese) exactly as without the key, and nothing is saved."""
    client, paper = sitting
    key = paper["page_key"]
    fill = fill_question(programme, paper)
    for body in (
        {"value": ["a\u0001", "b"]},
        {"value": ["\u0000", "b"]},
        b'{"value": ["\\ud800", "b"]}',
        '{"value": ["安全", "b"]}'.encode("utf-16"),
    ):
        refused = refused_alike(client, paper, fill, key=key, body=body)
        assert refused.status == 400, body
        assert refused.json()["code"] in ("control_characters", "bad_encoding"), body
    path = f"/api/v1/attempts/{paper['id']}/answers/{fill}"
    client.defaults["QUERY_STRING"] = "x=%00"
    try:
        queried = wsgi_call(client, "PUT", path, {"value": ["a", "b"]}, **{"X-Exam-Key": key})
    finally:
        del client.defaults["QUERY_STRING"]
    assert (queried.status, queried.delegated, queried.json()["code"]) == (400, True, "control_characters")
    assert not ExamAnswer.objects.filter(attempt_id=paper["id"]).exists()
    assert hot(put(client, paper, fill, ["安全第一", "预防为主"], key=key))  # the same answer in plain text
