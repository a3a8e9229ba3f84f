"""CAT-04, CAT-07, CAT-08: course content, search, the review cycle, ratings and Q&A; the learner pages."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from conftest import make_user
from safetrain.catalog.models import Course, Video, add_months
from safetrain.catalog.search import search, tokens
from safetrain.catalog.selectors import course_review_states, low_rated_courses, overdue_courses
from safetrain.catalog.services import (
    chapter_add,
    course_create,
    course_mark_reviewed,
    course_publish,
    legal_basis_add,
    legal_basis_changed,
    lesson_add,
    question_answer,
    question_ask,
    rating_set,
)
from safetrain.catalog.tests.factories import published_course, ready_video
from safetrain.core.errors import DomainError


def test_cat_04_a_video_lesson_takes_its_duration_from_the_file(db):
    video = ready_video()
    course = course_create(code="C1", title="课程")
    lesson = lesson_add(chapter=chapter_add(course=course, title="章"), title="节", video=video)
    assert lesson.duration_seconds == pytest.approx(6, abs=0.3)
    assert course.duration_seconds == lesson.duration_seconds


def test_cat_04_unfinished_videos_and_empty_courses_cannot_be_published(db):
    course = course_create(code="C2", title="空课程")
    with pytest.raises(DomainError) as err:
        course_publish(course=course)
    assert err.value.code == "course_empty"
    pending = Video.objects.create(title="处理中", original="x.mp4", status="processing")
    with pytest.raises(DomainError) as err:
        lesson_add(chapter=chapter_add(course=course, title="章"), title="节", video=pending)
    assert err.value.code == "video_not_ready"
    with pytest.raises(DomainError):
        course_create(code="C2", title="重复")


def test_cat_04_search_finds_chinese_words_inside_titles_and_introductions(db):
    video = ready_video()
    published_course("S1", "钢筋工典型事故案例", video=video, introduction="钢筋加工机械伤害")
    published_course("S2", "木工典型事故案例", video=video, introduction="模板坍塌与高处坠落")
    published_course("S3", "安全生产法解读", video=video, introduction="主要负责人职责")
    courses = Course.objects.published()
    assert set(search(courses, "钢筋").values_list("code", flat=True)) == {"S1"}
    assert set(search(courses, "事故案例").values_list("code", flat=True)) == {"S1", "S2"}
    assert set(search(courses, "高处坠落").values_list("code", flat=True)) == {"S2"}
    assert set(search(courses, "负责人").values_list("code", flat=True)) == {"S3"}
    assert not search(courses, "锅炉").exists()
    assert tokens("低压电工1.1", for_query=True) == ["低压", "压电", "电工", "1.1"]


def test_cat_04_search_finds_single_characters_and_standard_numbers_however_spaced(db):
    video = ready_video()
    published_course(
        "E1", "临时用电安全", video=video, introduction="依据 GB 50194 施工现场临时用电安全技术规范"
    )
    published_course("E2", "消防安全", video=video, introduction="火灾预防")
    courses = Course.objects.published()
    assert set(search(courses, "电").values_list("code", flat=True)) == {"E1"}
    assert set(search(courses, "火").values_list("code", flat=True)) == {"E2"}
    assert set(search(courses, "GB50194").values_list("code", flat=True)) == {"E1"}
    assert set(search(courses, "gb 50194").values_list("code", flat=True)) == {"E1"}


def test_cat_07_a_changed_law_makes_the_course_due_in_two_months_a_standard_in_three(db):
    course = course_create(code="LAW", title="法规课")
    law = legal_basis_add(course=course, title="安全生产法", kind="law", effective_date=dt.date(2002, 11, 1))
    std = legal_basis_add(course=course, title="AQ 8011", kind="standard", effective_date=dt.date(2024, 7, 1))
    legal_basis_changed(basis=std, changed_on=dt.date(2026, 1, 31))
    assert std.review_due() == dt.date(2026, 4, 30)
    legal_basis_changed(basis=law, changed_on=dt.date(2026, 2, 10))
    assert law.review_due() == dt.date(2026, 4, 10)
    state = next(s for s in course_review_states(dt.date(2026, 4, 1)) if s.course == course)
    assert state.due == dt.date(2026, 4, 10)
    assert not state.overdue
    assert [s.course for s in overdue_courses(dt.date(2026, 4, 11))] == [course]
    course_mark_reviewed(course=course, on=dt.date(2026, 4, 20))
    assert overdue_courses(dt.date(2026, 5, 1)) == []


def test_cat_07_month_arithmetic_keeps_to_the_end_of_short_months():
    assert add_months(dt.date(2025, 12, 31), 2) == dt.date(2026, 2, 28)
    assert add_months(dt.date(2027, 12, 31), 2) == dt.date(2028, 2, 29)


def test_cat_08_ratings_are_one_per_learner_and_low_rated_courses_are_flagged(world):
    course = published_course("RATE", "评价课")
    learners = [make_user(world.ent_nanshan, name=f"学员{i}") for i in range(5)]
    for learner in learners:
        rating_set(course=course, learner=learner, stars=2, comment="声音太小")
    rating_set(course=course, learner=learners[0], stars=1)  # changes, never duplicates
    assert course.ratings.count() == 5
    assert low_rated_courses() == [course]
    with pytest.raises(DomainError):
        rating_set(course=course, learner=learners[0], stars=6)


def test_cat_08_questions_and_answers(world):
    course = published_course("QA", "答疑课")
    question = question_ask(course=course, asker=world.learner_nanshan, text="安全带应该怎么挂？")
    with pytest.raises(DomainError):
        question_answer(question=question, answer=" ", answered_by=world.operator)
    question_answer(question=question, answer="高挂低用。", answered_by=world.operator)
    question.refresh_from_db()
    assert question.answer == "高挂低用。"
    assert question.answered_at is not None


def test_cat_08_operators_answer_questions_and_edit_courses_in_the_admin_with_an_audit_trail(
    world, web_client
):
    from safetrain.records.models import AuditEntry

    course = published_course("ADM", "后台课程")
    question = question_ask(course=course, asker=world.learner_nanshan, text="字幕在哪里？")
    client = web_client(world.operator)
    response = client.post(f"/admin/catalog/coursequestion/{question.pk}/change/", {"answer": "右下角按钮。"})
    assert response.status_code == 302
    question.refresh_from_db()
    assert question.answer == "右下角按钮。"
    assert question.answered_by == world.operator
    assert client.get("/admin/catalog/course/").status_code == 200
    assert client.get(f"/admin/catalog/course/{course.pk}/change/").status_code == 200
    assert AuditEntry.objects.filter(action="course.answer").exists()
    # Search follows edits made anywhere, the admin included.
    course.introduction = "新增：高处坠落防护"
    course.save()
    assert set(search(Course.objects.published(), "坠落").values_list("code", flat=True)) == {"ADM"}


def test_cat_03_an_operator_maps_an_unmapped_job_code(world, web_client):
    from safetrain.catalog.models import JobCodeMapping, JobType

    mapping = JobCodeMapping.objects.get(external_code="300")
    client = web_client(world.operator)
    assert "测量放线工" in client.get("/catalog/review/").content.decode()
    form = {
        "form-TOTAL_FORMS": "1",
        "form-INITIAL_FORMS": "1",
        "form-0-id": str(mapping.pk),
        "form-0-job_type": str(JobType.objects.get(code="PG").pk),
        "_save": "save",
    }
    response = client.post("/admin/catalog/jobcodemapping/", form)
    assert response.status_code == 302
    mapping.refresh_from_db()
    assert mapping.job_type.code == "PG"
    assert "测量放线工" not in client.get("/catalog/review/").content.decode()


def test_int_03_the_catalogue_api_lists_searches_and_details_published_courses(world, api_client):
    video = ready_video()
    published_course("API1", "钢筋安全", video=video)
    course_create(code="API2", title="草稿钢筋")
    client = api_client(world.learner_nanshan)
    listed = client.get("/api/v1/courses", {"q": "钢筋"}).json()
    assert [c["code"] for c in listed] == ["API1"]
    detail = client.get("/api/v1/courses/API1").json()
    assert detail["chapters"][0]["lessons"][0]["duration_seconds"] == pytest.approx(6, abs=0.3)
    assert client.get("/api/v1/courses/API2").status_code == 404
    assert client.get("/api/v1/courses").status_code == 200
    assert Client().get("/api/v1/courses").status_code == 401


def test_cat_07_a_second_change_does_not_postpone_an_earlier_unreviewed_one(db):
    course = course_create(code="LAW2", title="法规课二")
    law = legal_basis_add(course=course, title="消防法", kind="law", effective_date=dt.date(2009, 5, 1))
    legal_basis_changed(basis=law, changed_on=dt.date(2026, 1, 10))
    legal_basis_changed(
        basis=law, changed_on=dt.date(2026, 3, 1)
    )  # amended again before the course was updated
    law.refresh_from_db()
    assert law.review_due() == dt.date(2026, 3, 10)
    assert [s.course for s in overdue_courses(dt.date(2026, 3, 11))] == [course]
    course_mark_reviewed(course=course, on=dt.date(2026, 3, 20))
    legal_basis_changed(basis=law, changed_on=dt.date(2026, 6, 1))  # after the review: a new due date
    law.refresh_from_db()
    assert law.review_due() == dt.date(2026, 8, 1)
