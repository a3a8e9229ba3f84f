"""REG-04: the annual satisfaction survey: configurable questions about the platform, the institution and each
course studied; response rate and satisfaction rate (marks 4-5) per platform, institution and course, flagged
under 80 %; checked against hand counts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone, translation

from conftest import make_org, make_user, web_client_for
from safetrain.catalog.services import chapter_add, course_create, course_publish, lesson_add
from safetrain.catalog.tests.factories import published_programme
from safetrain.core.errors import DomainError
from safetrain.learning.models import Enrolment, LessonProgress
from safetrain.learning.services import enrolment_create
from safetrain.learning.tests.conftest import video_of
from safetrain.orgs.models import OrganisationKind
from safetrain.regulator import surveys
from safetrain.regulator.models import Survey, SurveyQuestion, SurveyResponse


@pytest.fixture(autouse=True)
def chinese():
    with translation.override("zh-hans"):
        yield


def course(code: str):
    c = course_create(code=code, title=f"课程{code}")
    lesson_add(chapter=chapter_add(course=c, title="章"), title="节", video=video_of(60))
    return course_publish(course=c)


@pytest.fixture
def setup(world):
    class S:
        pass

    s = S()
    today = timezone.localdate()
    s.school = make_org("南山安全培训学校", OrganisationKind.INSTITUTION, "440305")
    s.x, s.y = course("SV-X"), course("SV-Y")
    s.programme = published_programme("sv-p", [s.x, s.y], required_minutes=1)
    s.other = published_programme("sv-q", [s.x], required_minutes=1)

    def learner(name, unit, *studied, opened=today, programme=None):
        user = make_user(world.ent_nanshan, name=name)
        enrolment = enrolment_create(
            learner=user, programme=programme or s.programme, organisation=unit, opened_on=opened
        )
        for c in studied:
            LessonProgress.objects.create(
                enrolment=enrolment, lesson=c.chapters.first().lessons.first(), credited_seconds=30
            )
        return user

    s.a = learner("甲", s.school, s.x, s.y)
    s.b = learner("乙", s.school, s.x)
    s.c = learner("丙", world.ent_nanshan, s.x, programme=s.other)
    s.d = learner("丁", s.school, s.x, opened=today.replace(year=today.year - 1))  # trained last year
    s.survey = Survey.objects.create(
        year=today.year,
        title=f"{today.year}年度学员满意度调查",
        opens_on=today,
        closes_on=today + dt.timedelta(days=30),
    )
    s.q_platform = SurveyQuestion.objects.create(
        survey=s.survey, order=1, text="您对平台的总体评价", target="platform"
    )
    s.q_school = SurveyQuestion.objects.create(
        survey=s.survey, order=2, text="您对培训机构的服务", target="institution"
    )
    s.q_course = SurveyQuestion.objects.create(
        survey=s.survey, order=3, text="课程内容是否实用", target="course", with_comment=True
    )
    return s


def answer(s, learner, marks: dict, **comments):
    keyed = {}
    for (question, subject), mark in marks.items():
        keyed[surveys.item_key(question, subject)] = str(mark)
    return surveys.survey_submit(survey=s.survey, learner=learner, marks=keyed, comments=comments)


def test_reg_04_each_learner_is_asked_about_the_platform_their_institution_and_each_course_they_studied(
    setup,
):
    s = setup
    assert [(q.pk, getattr(subject, "pk", None)) for q, subject in surveys.items(s.survey, s.a)] == [
        (s.q_platform.pk, None),
        (s.q_school.pk, s.school.pk),
        (s.q_course.pk, s.x.pk),
        (s.q_course.pk, s.y.pk),
    ]
    assert len(surveys.items(s.survey, s.c)) == 2  # no institution trained 丙: platform and course X only
    assert surveys.open_survey_for(s.a) == s.survey
    assert surveys.open_survey_for(s.d) is None  # not invited: trained last year
    with pytest.raises(DomainError, match=f"{s.survey.year}年度"):
        answer(s, s.d, {(s.q_platform, None): 5})


def test_reg_04_the_rates_match_a_hand_count_and_flag_those_under_80_percent(setup, world):
    s = setup
    answer(
        s,
        s.a,
        {(s.q_platform, None): 5, (s.q_school, s.school): 4, (s.q_course, s.x): 3, (s.q_course, s.y): 5},
    )
    answer(s, s.b, {(s.q_platform, None): 4, (s.q_school, s.school): 2, (s.q_course, s.x): 2})
    answer(s, s.c, {(s.q_platform, None): 3, (s.q_course, s.x): 5})
    results = surveys.survey_results(s.survey)
    assert (results.invited, results.responses, results.response_percent) == (3, 3, 100.0)
    platform = results.platform
    assert (platform.marks, platform.satisfied, platform.mean, platform.percent, platform.flagged) == (
        3,
        2,
        4.0,
        66.7,
        True,
    )
    [school] = results.institutions
    assert (school.label, school.marks, school.percent, school.mean, school.flagged) == (
        "南山安全培训学校",
        2,
        50.0,
        3.0,
        True,
    )
    by_course = {r.label: r for r in results.courses}
    assert (by_course["课程SV-X"].percent, by_course["课程SV-X"].mean, by_course["课程SV-X"].flagged) == (
        33.3,
        3.33,
        True,
    )
    assert (by_course["课程SV-Y"].percent, by_course["课程SV-Y"].flagged) == (100.0, False)
    # A regulator sees its region's learners only: Futian trained none of them (no row, no invited, no marks);
    # Nanshan all three.
    from safetrain.orgs.models import Organisation

    futian = surveys.survey_results(
        s.survey, scope=Organisation.objects.supervised_by(world.regulator_futian)
    )
    assert (futian.institutions, futian.invited, futian.responses, futian.platform.marks) == ([], 0, 0, 0)
    nanshan = surveys.survey_results(
        s.survey, scope=Organisation.objects.supervised_by(world.regulator_nanshan)
    )
    assert (nanshan.invited, nanshan.responses, nanshan.platform.marks) == (3, 3, 3)


def test_reg_04_only_learners_with_something_to_rate_are_invited(setup, world):
    s = setup
    s.q_platform.delete()  # the survey asks about institutions and courses only
    idle = make_user(world.ent_nanshan, name="戊")
    enrolment_create(
        learner=idle, programme=s.other, organisation=world.ent_nanshan
    )  # no institution, no study
    assert surveys.items(s.survey, idle) == []
    assert surveys.open_survey_for(idle) is None
    assert surveys.open_survey_for(s.c) == s.survey  # 丙 studied course X
    assert surveys.invited_count(s.survey) == 3  # 甲, 乙, 丙; not 戊, not 丁 (last year)
    with pytest.raises(DomainError, match="没有需要您评价"):
        answer(s, idle, {})


def test_reg_04_every_mark_is_needed_and_a_learner_answers_once(setup):
    s = setup
    with pytest.raises(DomainError, match="课程内容是否实用"):
        answer(s, s.a, {(s.q_platform, None): 5, (s.q_school, s.school): 4, (s.q_course, s.x): 3})
    with pytest.raises(DomainError, match="1"):
        answer(
            s,
            s.a,
            {(s.q_platform, None): 9, (s.q_school, s.school): 4, (s.q_course, s.x): 3, (s.q_course, s.y): 5},
        )
    assert not SurveyResponse.objects.exists()
    marks = {(s.q_platform, None): 5, (s.q_school, s.school): 4, (s.q_course, s.x): 3, (s.q_course, s.y): 5}
    answer(s, s.a, marks, **{surveys.item_key(s.q_course, s.x): "案例很实用"})
    assert SurveyResponse.objects.get().answers.get(course=s.x).comment == "案例很实用"
    with pytest.raises(DomainError, match="已经"):
        answer(s, s.a, marks)
    Survey.objects.filter(pk=s.survey.pk).update(closes_on=timezone.localdate() - dt.timedelta(days=1))
    s.survey.refresh_from_db()
    with pytest.raises(DomainError, match="未开放"):
        answer(s, s.b, {(s.q_platform, None): 4, (s.q_school, s.school): 2, (s.q_course, s.x): 2})


def test_reg_04_the_pages_invite_ask_and_show_the_results(setup, world):
    s = setup
    s.a.must_change_password = False
    s.a.save(update_fields=["must_change_password"])
    client = web_client_for(s.a)
    assert 'data-testid="survey-invite"' in client.get("/").content.decode()
    page = client.get(f"/survey/{s.survey.pk}/").content.decode()
    assert "课程SV-Y" in page
    assert "南山安全培训学校" in page
    missing = client.post(f"/survey/{s.survey.pk}/", {surveys.item_key(s.q_platform, None): "5"})
    assert missing.status_code == 400
    done = client.post(
        f"/survey/{s.survey.pk}/",
        {
            surveys.item_key(s.q_platform, None): "5",
            surveys.item_key(s.q_school, s.school): "5",
            surveys.item_key(s.q_course, s.x): "2",
            surveys.item_key(s.q_course, s.y): "5",
        },
    )
    assert done.status_code == 302
    assert 'data-testid="survey-invite"' not in client.get("/").content.decode()
    results = (
        web_client_for(world.regulator_nanshan).get(f"/regulator/surveys/{s.survey.pk}/").content.decode()
    )
    assert "受邀学员3人中有1人参加（33.3%）" in results
    assert results.count("⚠ 低于标准") >= 1  # course X at 0 % is flagged (the hint alone says 低于 too)
    assert web_client_for(s.a).get(f"/regulator/surveys/{s.survey.pk}/").status_code == 403
    assert Enrolment.objects.filter(learner=s.a).exists()


def test_reg_04_the_flag_is_on_the_exact_rate_not_the_rounded_one():
    from safetrain.regulator.surveys import Rate

    assert Rate("x", marks=2500, satisfied=1999, total=0).percent == 80.0  # shown rounded
    assert Rate("x", marks=2500, satisfied=1999, total=0).flagged  # 79.96 % is under 80 %
    assert not Rate("x", marks=2500, satisfied=2000, total=0).flagged
