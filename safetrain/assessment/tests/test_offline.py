"""The offline total test (EXM-08): a printable paper of >= 100 random questions with an answer key, score entry by
the unit, pass 80, one retake on a new paper, else training again."""

from __future__ import annotations

import io
import random
import re
from decimal import Decimal

import pypdfium2 as pdfium
import pytest
from django.utils import timezone
from pypdf import PdfReader

from conftest import make_user, web_client_for
from safetrain.accounts.models import Role
from safetrain.accounts.services import membership_grant
from safetrain.assessment import offline
from safetrain.assessment.demo_bank import seed_demo_bank
from safetrain.assessment.models import OfflineTestResult, Question, QuestionKind
from safetrain.assessment.tests.conftest import studied
from safetrain.catalog.services import (
    chapter_add,
    course_create,
    course_publish,
    lesson_add,
    offline_session_record,
)
from safetrain.catalog.tests.factories import published_programme
from safetrain.core.errors import DomainError, PermissionDenied
from safetrain.learning.models import Enrolment
from safetrain.learning.tests.conftest import video_of
from safetrain.records.models import AuditEntry


@pytest.fixture
def shanxi(world):
    """A Shanxi programme (offline share 1/3, offline total test) with the 120-question demo bank."""
    course = course_create(code="SX-EX", title="安全管理人员再培训", is_public=True)
    lesson = lesson_add(chapter=chapter_add(course=course, title="章"), title="节", video=video_of(120))
    course_publish(course=course)
    programme = published_programme("sx-manager", [course], profile="shanxi", required_minutes=2)
    seed_demo_bank(programme)
    programme.lesson = lesson
    return programme


def trained(world, programme, learner, minutes: int = 1) -> Enrolment:
    """Online study done and the offline share attended."""
    studied(learner, programme)
    offline_session_record(
        programme=programme,
        organisation=world.ent_nanshan,
        date=timezone.localdate(),
        place="会议室",
        teacher="张老师",
        content="本单位安全规程",
        minutes=minutes,
        learners=[learner],
    )
    return Enrolment.objects.get(learner=learner, programme=programme)


def paper(world, programme, **kw):
    return offline.paper_create(
        programme=programme,
        organisation=world.ent_nanshan,
        held_on=timezone.localdate(),
        duration_minutes=90,
        actor=world.admin_nanshan,
        **kw,
    )


def pdf_text(data: bytes) -> str:
    """The document's text as PDFium (Chromium's PDF engine) reads it, whitespace removed."""
    document = pdfium.PdfDocument(data)
    return re.sub(r"\s+", "", "".join(page.get_textpage().get_text_range() for page in document))


def test_exm_08_paper_draws_at_least_100_distinct_questions_grouped_by_type(world, shanxi):
    first = paper(world, shanxi)
    second = paper(world, shanxi)
    ids = [item["question"] for item in first.items]
    assert len(ids) == len(set(ids)) == 100
    kinds = [item["kind"] for item in first.items]
    order = [QuestionKind.SINGLE, QuestionKind.MULTIPLE, QuestionKind.TRUE_FALSE, QuestionKind.FILL]
    assert kinds == sorted(kinds, key=order.index)
    assert ids != [item["question"] for item in second.items]  # each paper is its own draw
    assert first.number != second.number
    assert first.number.startswith("ZC")
    assert AuditEntry.objects.filter(action="offline_test.paper_create").count() == 2


def test_exm_08_answer_key_matches_the_printed_options(world, shanxi):
    drawn = paper(world, shanxi, count=120, rng=random.Random(5))
    bank = Question.objects.in_bulk([item["question"] for item in drawn.items])
    shuffled = 0
    for item in drawn.items:
        question = bank[item["question"]]
        if item["kind"] in (QuestionKind.SINGLE, QuestionKind.MULTIPLE):
            right = {question.options[i] for i in question.answer}
            assert {item["options"]["ABCDEFGHIJ".index(letter)] for letter in item["answer"]} == right
            assert sorted(item["options"]) == sorted(question.options)
            shuffled += item["options"] != question.options
        elif item["kind"] == QuestionKind.TRUE_FALSE:
            assert item["answer"] == ("√" if question.answer == [0] else "×")
        else:
            assert item["answer"].split("；")[0].split("/")[0] == question.answer[0][0]
    assert shuffled > 10


def test_exm_08_paper_and_key_pdfs_print_every_question_in_chinese(world, shanxi):
    drawn = paper(world, shanxi)
    paper_pdf = offline.paper_pdf(drawn)
    key_pdf = offline.key_pdf(drawn)
    text = pdf_text(paper_pdf)
    assert "线下总测试卷" in text
    assert drawn.number in text
    assert "姓名" in text
    assert "身份证号" in text
    assert "共100题，满分100分，80分及格" in text
    for number, item in enumerate(drawn.items, start=1):
        stem = re.sub(r"\s+", "", item["stem"])[:12]
        assert stem in text, (number, stem)
    assert "一、单项选择题" in text
    assert "三、判断题" in text
    key = pdf_text(key_pdf)
    assert "参考答案" in key
    assert drawn.number in key
    for number, item in enumerate(drawn.items, start=1):
        answer = re.sub(r"\s+", "", item["answer"])
        assert f"{number}.{answer}" in key
    assert "参考答案" not in text  # the candidates' paper carries no answers
    # The CJK font is embedded (a subset), so the paper prints the same anywhere.
    fonts = PdfReader(io.BytesIO(paper_pdf)).pages[0]["/Resources"]["/Font"]
    descriptors = [
        f.get_object()["/DescendantFonts"][0].get_object()["/FontDescriptor"] for f in fonts.values()
    ]
    assert any("/FontFile3" in d or "/FontFile2" in d for d in descriptors)


def test_exm_08_papers_are_refused_with_what_is_wrong(world, shanxi):
    with pytest.raises(DomainError, match="100 至 300"):
        paper(world, shanxi, count=99)
    with pytest.raises(DomainError, match="只有 120 道可用试题，本试卷需要 121 道") as caught:
        paper(world, shanxi, count=121)
    assert caught.value.field == "count"
    guangdong = published_programme("gd-x", [shanxi.lesson.chapter.course], profile="guangdong_online")
    with pytest.raises(DomainError, match="不要求线下总测"):
        paper(world, guangdong)
    with pytest.raises(PermissionDenied):
        offline.paper_create(
            programme=shanxi,
            organisation=world.ent_futian,
            held_on=timezone.localdate(),
            duration_minutes=90,
            actor=world.admin_nanshan,
        )


def test_exm_08_pass_first_time(world, shanxi):
    enrolment = trained(world, shanxi, world.learner_nanshan)
    assert offline.status(enrolment).state == offline.Status.PENDING
    assert not offline.passed(enrolment)
    [result] = offline.scores_enter(
        paper=paper(world, shanxi), scores={enrolment.pk: "80"}, actor=world.admin_nanshan
    )
    assert (result.sitting, result.score, result.passed) == (1, Decimal("80.0"), True)
    assert offline.passed(enrolment)
    with pytest.raises(DomainError) as caught:
        offline.scores_enter(
            paper=paper(world, shanxi), scores={enrolment.pk: "90"}, actor=world.admin_nanshan
        )
    assert "已合格" in caught.value.details["rows"][enrolment.pk]


def test_exm_08_one_retake_on_a_new_paper_then_training_again(world, shanxi):
    enrolment = trained(world, shanxi, world.learner_nanshan)
    first = paper(world, shanxi)
    offline.scores_enter(paper=first, scores={enrolment.pk: "79.5"}, actor=world.admin_nanshan)
    assert offline.status(enrolment).state == offline.Status.RETAKE
    with pytest.raises(DomainError) as caught:
        offline.scores_enter(paper=first, scores={enrolment.pk: "85"}, actor=world.admin_nanshan)
    assert "新试卷" in caught.value.details["rows"][enrolment.pk]
    retake = paper(world, shanxi)
    [result] = offline.scores_enter(paper=retake, scores={enrolment.pk: "60"}, actor=world.admin_nanshan)
    assert result.sitting == 2
    assert not result.passed
    standing = offline.status(enrolment)
    assert standing.state == offline.Status.RETRAIN
    assert "重新组织培训" in standing.message
    with pytest.raises(DomainError) as caught:
        offline.scores_enter(
            paper=paper(world, shanxi), scores={enrolment.pk: "95"}, actor=world.admin_nanshan
        )
    assert "重新组织培训" in caught.value.details["rows"][enrolment.pk]
    assert not offline.passed(enrolment)


def test_exm_08_retake_pass_counts(world, shanxi):
    enrolment = trained(world, shanxi, world.learner_nanshan)
    offline.scores_enter(paper=paper(world, shanxi), scores={enrolment.pk: "50"}, actor=world.admin_nanshan)
    offline.scores_enter(paper=paper(world, shanxi), scores={enrolment.pk: "88"}, actor=world.admin_nanshan)
    assert offline.status(enrolment).state == offline.Status.PASSED


def test_exm_08_score_entry_is_all_or_nothing_with_every_bad_row_named(world, shanxi):
    good = trained(world, shanxi, world.learner_nanshan)
    untrained = Enrolment.objects.create(
        learner=world.learner_team, programme=shanxi, opened_on=timezone.localdate()
    )  # enrolled, nothing studied
    other = make_user(world.ent_nanshan, Role.LEARNER, name="打错分")
    typo = trained(world, shanxi, other)
    foreign = trained(world, shanxi, world.learner_futian)  # another unit's learner
    drawn = paper(world, shanxi)
    with pytest.raises(DomainError, match="未保存任何成绩：有 3 行") as caught:
        offline.scores_enter(
            paper=drawn,
            scores={good.pk: "92", untrained.pk: "85", typo.pk: "8５x", foreign.pk: "90"},
            actor=world.admin_nanshan,
        )
    rows = caught.value.details["rows"]
    assert set(rows) == {untrained.pk, typo.pk, foreign.pk}
    assert "尚未完成全部理论培训" in rows[untrained.pk]
    assert "学习时长" in rows[untrained.pk]
    assert "不是有效成绩" in rows[typo.pk]
    assert "未通过本单位报名" in rows[foreign.pk]
    assert not OfflineTestResult.objects.exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("101", "0 至 100 之间"),
        ("-1", "0 至 100 之间"),
        ("85.55", "一位小数"),
        ("", "不是有效成绩"),
        ("NaN", "0 至 100 之间"),
    ],
)
def test_exm_08_bad_scores_are_named(text, message):
    with pytest.raises(DomainError, match=message):
        offline.parse_score(text)


def test_exm_08_offline_minutes_are_part_of_the_theory(world, shanxi):
    studied(world.learner_nanshan, shanxi)
    enrolment = Enrolment.objects.get(learner=world.learner_nanshan, programme=shanxi)
    assert offline.theory_problems(enrolment) == ["线下培训：0 / 1 分钟。"]


def test_exm_08_a_correction_is_a_new_entry_and_the_old_one_stays(world, shanxi):
    enrolment = trained(world, shanxi, world.learner_nanshan)
    [wrong] = offline.scores_enter(
        paper=paper(world, shanxi), scores={enrolment.pk: "58"}, actor=world.admin_nanshan
    )
    with pytest.raises(DomainError, match="请填写更正原因"):
        offline.result_correct(result=wrong, score="85", reason=" ", actor=world.admin_nanshan)
    fixed = offline.result_correct(
        result=wrong, score="85", reason="录入时看错了答题卡", actor=world.admin_nanshan
    )
    assert fixed.corrects == wrong
    assert fixed.sitting == 1
    assert offline.status(enrolment).state == offline.Status.PASSED
    assert OfflineTestResult.objects.filter(enrolment=enrolment).count() == 2
    wrong.refresh_from_db()
    assert wrong.score == Decimal("58.0")
    with pytest.raises(DomainError, match="当前有效的最新成绩"):
        offline.result_correct(result=wrong, score="70", reason="再改", actor=world.admin_nanshan)
    assert AuditEntry.objects.filter(action="offline_test.score_correct").count() == 1


def test_exm_08_unit_admin_draws_prints_and_enters_scores_in_the_browser(world, shanxi):
    enrolment = trained(world, shanxi, world.learner_nanshan)
    waiting = make_user(world.ent_nanshan, Role.LEARNER, name="未学完")
    Enrolment.objects.create(learner=waiting, programme=shanxi, opened_on=timezone.localdate())
    client = web_client_for(world.admin_nanshan)
    page = client.get("/assessment/offline-tests/")
    assert page.status_code == 200
    assert shanxi.name in page.content.decode()
    created = client.post(
        "/assessment/offline-tests/",
        {
            "programme": shanxi.pk,
            "organisation": world.ent_nanshan.pk,
            "held_on": timezone.localdate().isoformat(),
            "duration_minutes": 90,
            "count": 100,
        },
    )
    assert created.status_code == 302
    url = created["Location"]
    pdf = client.get(url + "paper.pdf")
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert client.get(url + "key.pdf").content.startswith(b"%PDF")
    listing = client.get(url).content.decode()
    assert f'name="score-{enrolment.pk}"' in listing
    assert "未学完" in listing
    assert "线下培训" in listing

    refused = client.post(url, {f"score-{enrolment.pk}": "一百"})
    assert refused.status_code == 400
    body = refused.content.decode()
    assert "未保存任何成绩" in body
    assert 'value="一百"' in body
    assert client.post(url, {f"score-{enrolment.pk}": "86.5"}).status_code == 302
    assert offline.status(enrolment).state == offline.Status.PASSED

    learner_page = web_client_for(world.learner_nanshan).get("/assessment/exams/").content.decode()
    assert "线下总测已合格" in learner_page
    assert "86.5" in learner_page


def test_exm_08_other_units_and_learners_cannot_reach_the_papers(world, shanxi):
    drawn = paper(world, shanxi)
    assert (
        web_client_for(world.admin_futian).get(f"/assessment/offline-tests/{drawn.pk}/paper.pdf").status_code
        == 404
    )
    assert (
        web_client_for(world.learner_nanshan).get(f"/assessment/offline-tests/{drawn.pk}/key.pdf").status_code
        == 403
    )
    assert web_client_for(world.operator).get(f"/assessment/offline-tests/{drawn.pk}/").status_code == 200


def test_exm_08_a_learner_membership_elsewhere_gives_no_organiser_rights(world, shanxi):
    membership_grant(user=world.admin_nanshan, organisation=world.ent_futian, role=Role.LEARNER)
    with pytest.raises(PermissionDenied):
        offline.paper_create(
            programme=shanxi,
            organisation=world.ent_futian,
            held_on=timezone.localdate(),
            duration_minutes=90,
            actor=world.admin_nanshan,
        )
    futian_paper = offline.paper_create(
        programme=shanxi,
        organisation=world.ent_futian,
        held_on=timezone.localdate(),
        duration_minutes=90,
        actor=world.admin_futian,
    )
    client = web_client_for(world.admin_nanshan)
    assert client.get(f"/assessment/offline-tests/{futian_paper.pk}/").status_code == 404
    assert (
        str(world.ent_futian.pk)
        not in re.findall(
            r'name="organisation".*?</select>',
            client.get("/assessment/offline-tests/").content.decode(),
            re.S,
        )[0]
    )


def test_exm_08_the_retake_paper_must_be_drawn_after_the_first_result(world, shanxi):
    enrolment = trained(world, shanxi, world.learner_nanshan)
    first, sibling = paper(world, shanxi), paper(world, shanxi)  # both printed for the first sitting
    offline.scores_enter(paper=first, scores={enrolment.pk: "50"}, actor=world.admin_nanshan)
    with pytest.raises(DomainError) as caught:
        offline.scores_enter(paper=sibling, scores={enrolment.pk: "90"}, actor=world.admin_nanshan)
    assert "新试卷" in caught.value.details["rows"][enrolment.pk]
    [retake] = offline.scores_enter(
        paper=paper(world, shanxi), scores={enrolment.pk: "90"}, actor=world.admin_nanshan
    )
    assert retake.sitting == 2


def test_exm_08_garbage_in_the_forms_is_refused_without_errors(world, shanxi):
    enrolment = trained(world, shanxi, world.learner_nanshan)
    drawn = paper(world, shanxi)
    client = web_client_for(world.admin_nanshan)
    url = f"/assessment/offline-tests/{drawn.pk}/"
    assert client.post(url, {"score-²": "80"}).status_code == 400  # no score given at all
    assert client.post(url, {"score-" + "9" * 30: "80"}).status_code == 400
    assert (
        client.post(url, {"action": "correct", "result": "abc", "score": "1", "reason": "x"}).status_code
        == 404
    )
    for text in ("1e2", "8_5", "-0", "1,000", "Infinity"):
        with pytest.raises(DomainError):
            offline.parse_score(text)
    assert offline.parse_score("８６．５") == Decimal("86.5")  # full-width digits from a Chinese keyboard
    assert not OfflineTestResult.objects.filter(enrolment=enrolment).exists()
    rule_url = f"/assessment/questions/{shanxi.code}/rule/"
    operator = web_client_for(world.operator)
    for form in (
        {"single-count": "10", "single-score": "1", "single-points": "a: " + "9" * 5000},
        {"single-count": "10", "single-score": "1", "question_ids": "9" * 20},
        {"single-count": "9" * 5000, "single-score": "1"},
        {"single-count": "10", "single-score": "1", "single-d1": "x"},
    ):
        response = operator.post(
            rule_url,
            {"name": "名" * 300, "duration_minutes": "60", "pass_mark": "6", "attempts": "1", **form},
        )
        assert response.status_code == 400, form
        assert 'value="10"' in response.content.decode() or "9999" in response.content.decode()
