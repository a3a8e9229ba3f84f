"""What a learner meets on the exam pages (issue 27, items 3, 4, 5, 7): the face check's countdown and progress
texts, one start button labelled by what it does, a collapsible navigator with counts, the review of a marked
paper as far as the region profile allows, and the wrong-answer book with the learner's own answer, filters,
paging and a practice mode with the verdict at once."""

from __future__ import annotations

import re

import pytest

from safetrain.assessment.models import ExamAttempt, Question
from safetrain.assessment.tests.conftest import put, right_positions, start, studied
from safetrain.assessment.wrongbook import wrong_items
from safetrain.catalog.models import ExamReview, RegionProfile


@pytest.fixture
def face_ready(settings, monkeypatch):
    """Face checks at the exam on, and the learner's approved ID photo (what the start page asks about)."""
    settings.FACE_CHECK_AT_EXAM = True
    monkeypatch.setattr("safetrain.assessment.views.has_reference_photo", lambda user: True)
    monkeypatch.setattr("safetrain.assessment.views.reference_photo_hold", lambda user: "")


def buttons(page: str) -> list[str]:
    """The buttons of the start page below its guide (the menu's own buttons left out)."""
    page = page[page.index('data-testid="exam-guide"') : page.index("</main>")]
    return [re.sub(r"\s+", " ", b).strip() for b in re.findall(r"<button[^>]*>(.*?)</button>", page, re.S)]


def test_face_02_exm_03_the_exam_start_shows_one_button_named_by_what_it_does(
    programme, world, web_client, face_ready
):
    learner = world.learner_nanshan
    studied(learner, programme)
    client = web_client(learner)
    page = client.get(f"/assessment/exams/{programme.code}/start/").content.decode()
    # The face check's own button, and the exam's start button only once the check has passed (exam.js).
    assert "开始人脸核验" in buttons(page)
    assert "开始核验" not in buttons(page)
    start_button = re.search(r'<button[^>]*data-testid="start-button"[^>]*>', page)[0]
    assert " disabled" in start_button
    assert " hidden" in start_button
    assert "开始考试" in buttons(page)
    assert "请先通过上方的人脸核验" in page
    # The countdown and the "checking" progress texts travel with the panel (face-check.js shows them).
    assert 'data-testid="face-countdown"' in page
    assert "秒后开始拍摄" in page
    assert "正在服务器上核验人脸" in page


def test_exm_03_the_mock_exam_and_an_exam_without_face_check_start_with_their_own_label(
    programme, world, web_client
):
    learner = world.learner_nanshan
    studied(learner, programme)
    client = web_client(learner)
    mock = client.get(f"/assessment/exams/{programme.code}/start/?kind=mock").content.decode()
    assert buttons(mock) == ["开始模拟测试"]
    assert "data-face-check" not in mock
    exam = client.get(f"/assessment/exams/{programme.code}/start/").content.decode()
    assert buttons(exam) == ["开始考试"]
    assert re.search(r'<button[^>]*data-testid="start-button"[^>]*>', exam)[0].count("disabled") == 0


def test_ux_01_the_exam_navigator_folds_and_counts_answered_and_unanswered(
    programme, world, web_client, api_client
):
    learner = world.learner_nanshan
    studied(learner, programme)
    attempt = start(api_client(learner), programme, kind="mock").json()
    put(api_client(learner), attempt, attempt["questions"][0], right_positions(attempt["questions"][0]))
    page = web_client(learner).get(f"/assessment/attempts/{attempt['id']}/").content.decode()
    summary = re.search(r'<summary data-testid="navigator-summary">(.*?)</summary>', page, re.S)[1]
    text = re.sub(r"<[^>]+>|\s+", "", summary)
    assert text == "已答1/共70·未答69"
    assert re.search(r'<details class="exam-nav-box" data-testid="navigator-box"', page)
    assert page.count('class="answered"') == 1


def _mock_with_two_wrong(client, programme):
    mock = start(client, programme, kind="mock").json()
    singles = [q for q in mock["questions"] if q["kind"] == "single"]
    put(client, mock, singles[0], right_positions(singles[0]))
    for q in singles[1:3]:
        put(client, mock, q, [next(i for i in range(len(q["options"])) if [i] != right_positions(q))])
    client.post(f"/api/v1/attempts/{mock['id']}/submit")
    return mock, singles


def test_exm_06_a_mock_exam_result_reviews_every_question_with_answers_and_explanations(
    programme, world, api_client, web_client
):
    learner = world.learner_nanshan
    studied(learner, programme)
    mock, singles = _mock_with_two_wrong(api_client(learner), programme)
    Question.objects.filter(pk=singles[1]["id"]).update(explanation="因为安全第一。")
    client = web_client(learner)
    page = client.get(f"/assessment/attempts/{mock['id']}/result/").content.decode()
    assert page.count('data-testid="review-item"') == 70
    assert page.count('data-correct="true"') == 1
    assert page.count('data-testid="review-right"') == 70
    assert "因为安全第一。" in page
    wrong = singles[1]
    letters = "ABCDEFGH"
    given = next(i for i in range(len(wrong["options"])) if [i] != right_positions(wrong))
    item = page[page.index(wrong["stem"]) :]
    item = item[: item.index("</article>")]
    assert f"您的答案: <strong>{letters[given]}</strong>" in item.replace("：", ": ")
    assert f"<strong>{letters[right_positions(wrong)[0]]}</strong>" in item
    only_wrong = client.get(f"/assessment/attempts/{mock['id']}/result/?wrong=1").content.decode()
    assert only_wrong.count('data-testid="review-item"') == 69  # two wrong and 67 unanswered
    # Someone else's review is not found.
    assert (
        web_client(world.learner_futian).get(f"/assessment/attempts/{mock['id']}/result/").status_code == 404
    )


@pytest.mark.parametrize(
    ("level", "items", "rights"),
    [(ExamReview.FULL, 70, 70), (ExamReview.OWN, 70, 0), (ExamReview.NONE, 0, 0)],
)
def test_exm_06_an_exam_review_shows_what_the_region_profile_allows(
    programme, world, api_client, web_client, level, items, rights
):
    RegionProfile.objects.filter(pk=programme.profile_id).update(exam_review=level)
    learner = world.learner_nanshan
    studied(learner, programme)
    client = api_client(learner)
    exam = start(client, programme).json()
    first, second = [q for q in exam["questions"] if q["kind"] == "single"][:2]
    put(client, exam, first, right_positions(first))
    put(
        client,
        exam,
        second,
        [next(i for i in range(len(second["options"])) if [i] != right_positions(second))],
    )
    client.post(f"/api/v1/attempts/{exam['id']}/submit")
    page = web_client(learner).get(f"/assessment/attempts/{exam['id']}/result/").content.decode()
    # My exams links each marked attempt to its result and review.
    history = web_client(learner).get("/assessment/exams/").content.decode()
    assert f"/assessment/attempts/{exam['id']}/result/" in history
    assert f'data-level="{level}"' in page
    assert page.count('data-testid="review-item"') == items
    assert page.count('data-testid="review-right"') == rights
    assert ('data-testid="review-closed"' in page) is (level == ExamReview.NONE)
    # Right answers the exam review does not show are not in the wrong-answer book either.
    assert bool(wrong_items(learner)) is (level == ExamReview.FULL)


def test_exm_06_the_wrong_answer_book_shows_the_own_answer_filters_and_pages(
    programme, world, api_client, web_client
):
    learner = world.learner_nanshan
    studied(learner, programme)
    client = api_client(learner)
    mock = start(client, programme, kind="mock").json()
    wrong = []
    for q in mock["questions"]:
        if q["kind"] in ("single", "true_false") and len(wrong) < 14:
            bad = next(i for i in range(len(q["options"])) if [i] != right_positions(q))
            put(client, mock, q, [bad])
            wrong.append((q, bad))
    client.post(f"/api/v1/attempts/{mock['id']}/submit")
    Question.objects.filter(pk=wrong[0][0]["id"]).update(knowledge_point="本测试独有的知识点")
    page = web_client(learner)
    first = page.get("/assessment/wrong/").content.decode()
    assert first.count('data-testid="wrong-item"') == 10  # ten a page
    assert 'data-testid="wrong-pager"' in first
    assert first.count('data-testid="own-answer"') == 10
    assert "您的答案" in first
    second = page.get("/assessment/wrong/?page=2").content.decode()
    assert second.count('data-testid="wrong-item"') == 4
    kinds = {q["kind"] for q, _bad in wrong}
    for kind in kinds:
        shown = page.get(f"/assessment/wrong/?kind={kind}").content.decode()
        expected = min(10, sum(1 for q, _bad in wrong if q["kind"] == kind))
        assert shown.count('data-testid="wrong-item"') == expected
    point = page.get("/assessment/wrong/?point=本测试独有的知识点").content.decode()
    assert point.count('data-testid="wrong-item"') == 1
    assert wrong[0][0]["stem"] in point
    assert (
        page.get(f"/assessment/wrong/?programme={programme.code}")
        .content.decode()
        .count('data-testid="wrong-item"')
        == 10
    )
    nothing = page.get("/assessment/wrong/?programme=elsewhere").content.decode()
    assert 'data-testid="wrong-book-none-match"' in nothing


def test_exm_06_practice_mode_gives_the_verdict_at_once_and_a_right_answer_masters_the_question(
    programme, world, api_client, web_client
):
    learner = world.learner_nanshan
    studied(learner, programme)
    _mock, _singles = _mock_with_two_wrong(api_client(learner), programme)
    page = web_client(learner)
    practice = page.get("/assessment/wrong/?mode=practice").content.decode()
    assert 'data-testid="practice-form"' in practice
    assert 'data-testid="right-answer"' not in practice  # not before answering
    key = re.search(r'name="item" value="([^"]+)"', practice)[1]
    question = Question.objects.get(pk=int(key.split("-")[1]))
    wrong_option = next(i for i in range(len(question.options)) if i not in question.answer)
    missing = page.post("/assessment/wrong/", {"mode": "practice", "item": key, "i": "0"})
    assert missing.status_code == 400
    assert "请先作答" in missing.content.decode()
    again = page.post(
        "/assessment/wrong/", {"mode": "practice", "item": key, "i": "0", "option": [wrong_option]}
    )
    text = again.content.decode()
    assert again.status_code == 200
    assert 'data-right="false"' in text
    assert 'data-testid="right-answer"' in text
    assert "mode=practice&amp;i=1" in text  # on to the next question; this one stays in the book
    assert len(wrong_items(learner)) == 2
    right = page.post(
        "/assessment/wrong/", {"mode": "practice", "item": key, "i": "0", "option": question.answer}
    ).content.decode()
    assert 'data-right="true"' in right
    assert "mode=practice&amp;i=0" in right  # the next question moved up into this place
    assert [i.question_id for i in wrong_items(learner)] != [question.pk]
    assert len(wrong_items(learner)) == 1
    done = page.get("/assessment/wrong/?mode=practice&i=5").content.decode()
    assert 'data-testid="practice-done"' in done
    assert ExamAttempt.objects.filter(enrolment__learner=world.learner_futian).count() == 0
