"""LRN-08 and CAT-04 learner pages: my programmes, the course page with rating and Q&A, the catalogue."""

from __future__ import annotations

import pytest

from safetrain.catalog.services import course_create
from safetrain.catalog.tests.factories import published_course, published_programme
from safetrain.learning.services import enrolment_create


@pytest.fixture
def enrolled(world):
    course = published_course("PAGE", "页面课程", introduction="课程介绍文字")
    programme = published_programme(
        "page-prog",
        [course],
        required_minutes=95,
        required_public_minutes=35,
        deadline_kind="after_opening",
        deadline_days=30,
    )
    enrolment = enrolment_create(learner=world.learner_nanshan, programme=programme)
    return course, programme, enrolment


def test_lrn_08_my_programmes_lists_required_minutes_public_minutes_and_deadline(enrolled, world, web_client):
    course, programme, enrolment = enrolled
    page = web_client(world.learner_nanshan).get("/learn/").content.decode()
    assert programme.name in page
    assert course.title in page
    card = page[page.index('data-testid="programme-card"') :]
    assert "95" in card  # required minutes
    assert "35" in card  # public-course minutes
    assert "必修" in card
    assert enrolment.deadline.isoformat() in page or enrolment.deadline.strftime("%Y年%-m月%-d日") in page


def test_cat_04_the_course_page_shows_intro_outline_and_lets_enrolled_learners_rate_and_ask(
    enrolled, world, web_client
):
    course, _, _ = enrolled
    client = web_client(world.learner_nanshan)
    page = client.get(f"/courses/{course.code}/").content.decode()
    assert "课程介绍文字" in page
    assert "第一节" in page
    assert 'data-testid="lesson-link"' in page
    assert client.post(f"/courses/{course.code}/rate/", {"stars": "4", "comment": "好"}).status_code == 302
    assert client.post(f"/courses/{course.code}/ask/", {"text": "有字幕吗？"}).status_code == 302
    assert course.ratings.get().stars == 4
    assert course.questions.get().text == "有字幕吗？"
    other = web_client(world.learner_futian)
    outsider_page = other.get(f"/courses/{course.code}/").content.decode()
    assert 'data-testid="lesson-link"' not in outsider_page
    assert other.post(f"/courses/{course.code}/rate/", {"stars": "1"}).status_code == 403


def test_cat_04_the_catalogue_lists_and_searches_published_courses(enrolled, world, web_client):
    course_create(code="DRAFT", title="草稿课程")
    client = web_client(world.learner_futian)
    page = client.get("/courses/").content.decode()
    assert "页面课程" in page
    assert "草稿课程" not in page
    assert "页面课程" not in client.get("/courses/", {"q": "锅炉"}).content.decode()
    assert client.get("/courses/DRAFT/").status_code == 404


def test_lrn_07_an_operator_enrols_a_learner_by_id_number_in_the_admin(world, web_client):
    from safetrain.learning.models import Enrolment

    course = published_course("ADM-E", "后台报名课程")
    programme = published_programme("adm-prog", [course], deadline_kind="after_opening", deadline_days=30)
    client = web_client(world.operator)
    unknown = client.post(
        "/admin/learning/enrolment/add/", {"id_number": "440305199001019999", "programme": programme.pk}
    )
    assert unknown.status_code == 200  # the form again, with the reason
    assert "没有" in unknown.content.decode() or "No account" in unknown.content.decode()
    response = client.post(
        "/admin/learning/enrolment/add/",
        {"id_number": world.learner_futian.id_number.lower(), "programme": programme.pk},
    )
    assert response.status_code == 302
    enrolment = Enrolment.objects.get(learner=world.learner_futian)
    assert enrolment.deadline is not None


def test_lrn_07_learners_enrol_themselves_only_where_the_programme_allows(world, web_client):
    from safetrain.learning.models import Enrolment

    course = published_course("SELF", "自学课程")
    open_programme = published_programme("self-open", [course], self_enrolment=True)
    closed = published_programme("self-closed", [course])
    client = web_client(world.learner_futian)
    page = client.get("/learn/").content.decode()
    assert open_programme.name in page
    assert closed.name not in page
    assert client.post("/learn/", {"programme": open_programme.pk}).status_code == 302
    assert Enrolment.objects.filter(learner=world.learner_futian, programme=open_programme).exists()
    refused = client.post("/learn/", {"programme": closed.pk}, follow=True)
    assert "不是由学员自行报名" in refused.content.decode() or "not by learners" in refused.content.decode()
    assert not Enrolment.objects.filter(learner=world.learner_futian, programme=closed).exists()


def test_lrn_09_study_and_quiz_pages_warn_against_study_time_cheating(world, web_client):
    course = published_course("WARN", "警示课程")
    programme = published_programme("warn-prog", [course])
    enrolment_create(learner=world.learner_nanshan, programme=programme)
    client = web_client(world.learner_nanshan)
    lesson = course.lessons().first()
    for url in ("/learn/", f"/courses/{course.code}/lessons/{lesson.pk}/"):
        assert "学时作弊" in client.get(url).content.decode(), url
