"""ENT-04, FACE-06: training classes (开班培训): open one, add the people on site with the filters (not trained yet,
job type, team), follow progress, the training summary (人员培训汇总); group sessions with the signed sheet and
face photos matched against the members."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone, translation
from openpyxl import load_workbook

from conftest import make_org, web_client_for
from safetrain.accounts.models import Membership, Role
from safetrain.accounts.services import membership_grant
from safetrain.catalog.models import OfflinePhotoKind
from safetrain.catalog.tests.factories import published_programme
from safetrain.core.errors import DomainError, PermissionDenied
from safetrain.enterprise import classes
from safetrain.enterprise.models import ClassGroupSession, ClassMember, TrainingClass
from safetrain.enterprise.tests.test_report import Site
from safetrain.learning.models import Enrolment, EnrolmentStatus
from safetrain.orgs.models import OrganisationKind
from safetrain.proctoring.models import GroupFaceMatch
from safetrain.records.models import AuditEntry


@pytest.fixture(autouse=True)
def chinese():
    with translation.override("zh-hans"):
        yield


@pytest.fixture
def site(world):
    s = Site(world)
    s.carpenters = make_org("木工班组", OrganisationKind.TEAM, "440305", world.project)
    s.rebar_a = s.person("钢筋甲")  # in the rebar team (world.team)
    s.rebar_b = s.person("钢筋乙")
    s.carpenter = s.person("木工丙", job="MG")
    for user in (s.carpenter,):
        Membership.objects.filter(user=user).update(is_active=False)
        membership_grant(user=user, organisation=s.carpenters, role=Role.LEARNER)
    # Enrolled in this programme already, at another project: not "not trained yet", and keeps its progress.
    s.studied = s.person("已在学")
    elsewhere = make_org("南山二号项目", OrganisationKind.PROJECT, "440305", world.ent_nanshan)
    s.studied_enrolment = s.enrol(s.studied, unit=elsewhere)
    s.study(s.studied_enrolment, s.general)
    s.gone = s.person("已离场", on_site=False)
    s.klass = classes.class_create(
        unit=world.project,
        programme=s.programme,
        name="12月入场教育第1期",
        starts_on=timezone.localdate(),
        actor=world.admin_nanshan,
    )
    return s


def person_of(site, user):
    return user.personnel.get(organisation=site.project)


def names(rows) -> set[str]:
    return {r.user.name for r in rows}


def test_ent_04_a_class_is_opened_only_with_sound_details_by_the_units_admin(site, world):
    before = TrainingClass.objects.count()
    today = timezone.localdate()
    cases = [
        (dict(name="  "), "请填写班级名称"),
        (dict(name="x" * 121), "班级名称过长"),
        (dict(ends_on=today - dt.timedelta(days=1)), "结束日期不能早于开始日期"),
    ]
    for change, message in cases:
        kwargs = dict(
            unit=world.project,
            programme=site.programme,
            name="第2期",
            starts_on=today,
            actor=world.admin_nanshan,
        )
        kwargs.update(change)
        with pytest.raises(DomainError) as error:
            classes.class_create(**kwargs)
        assert message in error.value.message
    hidden = published_programme("rpt-hidden", [site.general])
    hidden.is_published = False
    with pytest.raises(DomainError, match="未开放报名"):
        classes.class_create(
            unit=world.project, programme=hidden, name="第2期", starts_on=today, actor=world.admin_nanshan
        )
    with pytest.raises(PermissionDenied):
        classes.class_create(
            unit=world.project,
            programme=site.programme,
            name="第2期",
            starts_on=today,
            actor=world.admin_futian,
        )
    assert TrainingClass.objects.count() == before


def test_ent_04_candidates_are_the_people_on_site_narrowed_by_the_filters(site):
    everyone = names_of_people(classes.class_candidates(site.klass))
    assert everyone == {"钢筋甲", "钢筋乙", "木工丙", "已在学"}  # not the one who left
    assert names_of_people(classes.class_candidates(site.klass, untrained=True)) == {
        "钢筋甲",
        "钢筋乙",
        "木工丙",
    }
    assert names_of_people(classes.class_candidates(site.klass, job_type_id=site.rebar_type.pk)) == {
        "钢筋甲",
        "钢筋乙",
        "已在学",
    }
    assert names_of_people(classes.class_candidates(site.klass, team_id=site.carpenters.pk)) == {"木工丙"}
    classes.class_add(
        training_class=site.klass,
        person_ids=[person_of(site, site.rebar_a).pk],
        actor=site.world.admin_nanshan,
    )
    # Members are no longer candidates; in the class means not "not trained yet" (S0 4).
    assert names_of_people(classes.class_candidates(site.klass, untrained=True)) == {"钢筋乙", "木工丙"}


def names_of_people(people) -> set[str]:
    return {p.user.name for p in people}


def test_ent_04_adding_people_enrols_them_with_their_job_type_and_keeps_existing_progress(site, world):
    result = classes.class_add(
        training_class=site.klass,
        person_ids=[person_of(site, u).pk for u in (site.rebar_a, site.carpenter, site.studied, site.gone)],
        actor=world.admin_nanshan,
    )
    assert sorted(result.added) == sorted(["钢筋甲", "木工丙", "已在学"])
    assert result.refused == [("已离场", "已离场")]
    enrolment = Enrolment.objects.get(learner=site.carpenter, programme=site.programme)
    assert enrolment.job_type.code == "MG"
    assert enrolment.organisation == world.project
    # The worker enrolled at the last project keeps that enrolment and its credited time.
    assert ClassMember.objects.filter(training_class=site.klass, enrolment=site.studied_enrolment).exists()
    rows = {r.user.name: r for r in classes.class_rows(site.klass)}
    assert set(rows) == {"钢筋甲", "木工丙", "已在学"}
    assert rows["已在学"].trained
    assert rows["已在学"].credited_minutes == 1.0
    assert not rows["钢筋甲"].trained
    assert rows["木工丙"].main.completion.courses_done == 0
    again = classes.class_add(
        training_class=site.klass, person_ids=[person_of(site, site.rebar_a).pk], actor=world.admin_nanshan
    )
    assert again.already == ["钢筋甲"]
    assert again.added == []
    assert ClassMember.objects.filter(training_class=site.klass).count() == 3
    assert AuditEntry.objects.filter(action="enterprise.class_add").count() == 2


def test_ent_04_a_voided_enrolment_is_refused_and_a_foreign_person_changes_nothing(site, world):
    void = site.enrol(site.rebar_b)
    Enrolment.objects.filter(pk=void.pk).update(status=EnrolmentStatus.VOID)
    result = classes.class_add(
        training_class=site.klass, person_ids=[person_of(site, site.rebar_b).pk], actor=world.admin_nanshan
    )
    assert result.added == []
    assert "作废" in result.refused[0][1]
    foreign = site.person("别的单位", unit=world.ent_futian).personnel.get()
    with pytest.raises(DomainError, match="不是.*南山一号项目"):
        classes.class_add(
            training_class=site.klass,
            person_ids=[person_of(site, site.rebar_a).pk, foreign.pk],
            actor=world.admin_nanshan,
        )
    with pytest.raises(DomainError, match="勾选"):
        classes.class_add(training_class=site.klass, person_ids=[], actor=world.admin_nanshan)
    with pytest.raises(PermissionDenied):
        classes.class_add(
            training_class=site.klass, person_ids=[person_of(site, site.rebar_a).pk], actor=world.admin_futian
        )
    assert not ClassMember.objects.exists()
    assert not Enrolment.objects.filter(learner=site.rebar_a).exists()


def test_ent_04_the_training_summary_lists_everyone_put_into_training_with_completion(site, world):
    classes.class_add(
        training_class=site.klass,
        person_ids=[person_of(site, u).pk for u in (site.rebar_a, site.rebar_b)],
        actor=world.admin_nanshan,
    )
    done = Enrolment.objects.get(learner=site.rebar_b, programme=site.programme)
    site.study(done, site.general)
    site.study(done, site.rebar)
    site.exam(done, score=92)
    gone_enrolment = site.enrol(site.gone)
    site.study(gone_enrolment, site.general)
    assert names(classes.training_summary(world.project)) == {"钢筋甲", "钢筋乙", "已在学", "已离场"}
    assert names(classes.training_summary(world.project, "completed")) == {"钢筋乙"}
    assert names(classes.training_summary(world.project, "in_progress")) == {"钢筋甲", "已在学", "已离场"}
    with pytest.raises(DomainError):
        classes.training_summary(world.project, "nonsense")
    client = web_client_for(world.admin_nanshan)
    page = client.get(f"/enterprise/summary/?unit={world.project.pk}&status=completed").content.decode()
    assert "钢筋乙" in page
    assert "钢筋甲" not in page
    assert "已完成培训" in page
    export = client.get(f"/enterprise/summary/?unit={world.project.pk}&format=xlsx")
    rows = list(load_workbook(io.BytesIO(export.content)).active.iter_rows(min_row=2, values_only=True))
    assert {r[1] for r in rows} == {"钢筋甲", "钢筋乙", "已在学", "已离场"}
    assert (
        web_client_for(world.admin_futian)
        .get(f"/enterprise/summary/?unit={world.project.pk}")
        .content.decode()
        .count("钢筋乙")
        == 0
    )


def test_ent_04_the_class_pages_open_filter_add_and_export(site, world):
    client = web_client_for(world.admin_nanshan)
    response = client.post(
        "/enterprise/classes/",
        {
            "unit": world.project.pk,
            "programme": site.programme.pk,
            "name": "12月入场教育第2期",
            "starts_on": timezone.localdate().isoformat(),
        },
    )
    klass = TrainingClass.objects.get(name="12月入场教育第2期")
    assert response.status_code == 302
    assert response["Location"] == f"/enterprise/classes/{klass.pk}/"
    bad = client.post("/enterprise/classes/", {"unit": world.project.pk, "programme": site.programme.pk})
    assert bad.status_code == 400
    assert "这个字段是必须的" in bad.content.decode()
    page = client.get(f"/enterprise/classes/{klass.pk}/?untrained=1").content.decode()
    assert "钢筋甲" in page
    assert "已在学" not in page
    page = client.get(f"/enterprise/classes/{klass.pk}/?team={site.carpenters.pk}").content.decode()
    assert "木工丙" in page
    assert "钢筋甲" not in page
    added = client.post(
        f"/enterprise/classes/{klass.pk}/add/",
        {"person": [person_of(site, site.carpenter).pk], "filters": "untrained=1&team=x&evil=1"},
        follow=True,
    )
    assert "已加入班级并报名：木工丙" in added.content.decode()
    # Back to the list as it was filtered (only the known filters, only numbers).
    assert added.redirect_chain[0][0] == f"/enterprise/classes/{klass.pk}/?untrained=1"
    # Excel refuses / \\ ? * [ ] : in sheet names: a class may still be called so.
    TrainingClass.objects.filter(pk=klass.pk).update(name="2026/12 [入场]教育: 第2期?")
    export = client.get(f"/enterprise/classes/{klass.pk}/?format=xlsx")
    assert export.status_code == 200
    rows = list(load_workbook(io.BytesIO(export.content)).active.iter_rows(min_row=2, values_only=True))
    assert [r[1] for r in rows] == ["木工丙"]
    assert web_client_for(world.admin_futian).get(f"/enterprise/classes/{klass.pk}/").status_code == 404
    assert web_client_for(world.learner_nanshan).get("/enterprise/classes/").status_code == 403


def test_face_06_a_group_session_of_a_class_needs_the_sheet_and_photos_and_matches_the_members(
    site, world, django_capture_on_commit_callbacks
):
    from safetrain.proctoring.tests.camera import id_photo
    from safetrain.proctoring.tests.test_engine import photo
    from safetrain.proctoring.tests.test_group import _sheet
    from safetrain.proctoring.tests.test_reference_photo import approved_photo, portrait

    classes.class_add(
        training_class=site.klass,
        person_ids=[person_of(site, u).pk for u in (site.rebar_a, site.rebar_b)],
        actor=world.admin_nanshan,
    )
    approved_photo(site.rebar_a, portrait("obama.jpg"), reviewer=world.admin_nanshan)
    approved_photo(site.rebar_b, id_photo("biden.jpg"), reviewer=world.admin_nanshan)
    details = dict(
        training_class=site.klass,
        date=timezone.localdate(),
        place="项目部会议室",
        teacher="李老师",
        content="入场安全教育",
        minutes=60,
        present_user_ids=[site.rebar_a.pk, site.rebar_b.pk],
        actor=world.admin_nanshan,
    )

    def sheet():
        return SimpleUploadedFile("sheet.png", _sheet(), "image/png")

    def group():
        return SimpleUploadedFile("group.jpg", photo("obama_and_biden.jpg"), "image/jpeg")

    for change, message in [
        (dict(sheet=None, photos=[group()]), "签到表"),
        (dict(sheet=sheet(), photos=[]), "正脸照片"),
        (dict(sheet=sheet(), photos=[group()], present_user_ids=[]), "勾选"),
        (dict(sheet=sheet(), photos=[group()], present_user_ids=[site.carpenter.pk]), "班级学员"),
    ]:
        with pytest.raises(DomainError, match=message):
            classes.group_session_record(**{**details, **change})
    assert not ClassGroupSession.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        link = classes.group_session_record(**details, sheet=sheet(), photos=[group()])
    session = link.session
    assert set(session.attendance.values_list("learner_id", flat=True)) == {site.rebar_a.pk, site.rebar_b.pk}
    assert set(session.photos.values_list("kind", flat=True)) == {
        OfflinePhotoKind.SHEET,
        OfflinePhotoKind.FACES,
    }
    matched = set(
        GroupFaceMatch.objects.filter(session=session)
        .exclude(learner=None)
        .values_list("learner_id", flat=True)
    )
    assert matched == {site.rebar_a.pk, site.rebar_b.pk}
    # More photos afterwards (S0 10): stored, matched again.
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            classes.group_photos_add(link=link, sheet=None, photos=[group()], actor=world.admin_nanshan) == 1
        )
    assert session.photos.filter(kind=OfflinePhotoKind.FACES).count() == 2
    assert GroupFaceMatch.objects.filter(session=session).exclude(learner=None).count() == 4
    page = web_client_for(world.admin_nanshan).get(f"/enterprise/classes/{site.klass.pk}/").content.decode()
    assert "项目部会议室" in page
    assert f"/proctoring/group/{session.pk}/" in page
