"""POL-PHONE / ACC-06 (GD#14 "是否不留存学习人员手机号、微信号及其他联系方式"): a learner training under a region profile
that keeps no phones has none in the database (checked with raw SQL on the encrypted column and its blind index);
a learner under another profile keeps it. Enrolment forms of such a region do not ask for it, and imports say that
they did not keep it."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import translation

from conftest import make_user, new_id_number, web_client_for
from safetrain.accounts.models import User, phone_index_of
from safetrain.catalog.models import RegionProfile
from safetrain.catalog.services import chapter_add, course_create, course_publish, lesson_add
from safetrain.catalog.tests.factories import published_programme
from safetrain.enterprise import applications, roster
from safetrain.enterprise.models import ApplicationTrainee
from safetrain.enterprise.tests.test_applications import Setup
from safetrain.enterprise.tests.test_roster import plain_roster
from safetrain.learning.services import enrolment_create, keeps_phone
from safetrain.learning.tests.conftest import video_of
from safetrain.records.models import AuditEntry


@pytest.fixture(autouse=True)
def chinese():
    with translation.override("zh-hans"):
        yield


def stored_phone(user) -> tuple[str, str | None]:
    """What the database holds, read past the ORM: the encrypted column and the blind index."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone, phone_index FROM accounts_user WHERE id = %s", [user.pk])
        return cursor.fetchone()


@pytest.fixture
def programmes(world):
    course = course_create(code="PH-1", title="通用课程")
    lesson_add(chapter=chapter_add(course=course, title="章"), title="节", video=video_of(60))
    course_publish(course=course)
    return {
        "guangdong": published_programme("ph-gd", [course], profile="guangdong_online"),
        "shenzhen": published_programme("ph-sz", [course], profile="shenzhen_construction"),
    }


def test_pol_phone_a_learner_under_the_guangdong_profile_ends_with_no_phone_stored(world, programmes):
    assert not RegionProfile.objects.get(code="guangdong_online").keep_phones
    guangdong = make_user(world.ent_nanshan, name="广东学员", phone="13900001111")
    shenzhen = make_user(world.ent_nanshan, name="深圳学员", phone="13900002222")
    phone, index = stored_phone(guangdong)
    assert phone
    assert "13900001111" not in phone
    assert index == phone_index_of("13900001111")
    enrolment_create(learner=guangdong, programme=programmes["guangdong"])
    enrolment_create(learner=shenzhen, programme=programmes["shenzhen"])
    assert stored_phone(guangdong) == ("", None)
    phone, index = stored_phone(shenzhen)
    assert phone
    assert index == phone_index_of("13900002222")
    assert User.objects.get(pk=shenzhen.pk).phone == "13900002222"
    assert (keeps_phone(guangdong), keeps_phone(shenzhen)) == (False, True)
    # The erasure is audited, without the number; phone sign-in ends with it.
    entry = AuditEntry.objects.get(action="account.phone_erase")
    assert (entry.object_id, entry.detail) == (str(guangdong.pk), {"reason": "profile:guangdong_online"})
    assert not User.objects.by_login("13900001111").exists()
    assert User.objects.by_login("13900002222").get() == shenzhen
    # A Shenzhen learner who is enrolled in a Guangdong programme too becomes subject to it.
    enrolment_create(learner=shenzhen, programme=programmes["guangdong"])
    assert stored_phone(shenzhen) == ("", None)
    # Nothing to erase the second time: no second entry for the same person.
    enrolment_create(learner=guangdong, programme=programmes["shenzhen"])
    assert AuditEntry.objects.filter(action="account.phone_erase").count() == 2


def test_pol_phone_the_hourly_sweep_erases_phones_kept_before_the_rule_or_put_back_since(world, programmes):
    """Learners enrolled under the Guangdong profile before phones were kept per profile, or whose number came back
    (an import, an edit), lose it at the next sweep; others keep theirs."""
    from safetrain.learning.tasks import phones_erase

    guangdong = make_user(world.ent_nanshan, name="广东老学员", phone="13900003333")
    shenzhen = make_user(world.ent_nanshan, name="深圳老学员", phone="13900004444")
    enrolment_create(learner=guangdong, programme=programmes["guangdong"])
    enrolment_create(learner=shenzhen, programme=programmes["shenzhen"])
    # As the database stood before: the number stored although the profile keeps none.
    User.objects.filter(pk=guangdong.pk).update(
        phone="13900003333", phone_index=phone_index_of("13900003333")
    )
    assert stored_phone(guangdong)[1] == phone_index_of("13900003333")
    assert phones_erase() == 1
    assert stored_phone(guangdong) == ("", None)
    assert User.objects.get(pk=shenzhen.pk).phone == "13900004444"
    assert phones_erase() == 0  # nothing left; no second audit entry
    assert AuditEntry.objects.filter(action="account.phone_erase", object_id=str(guangdong.pk)).count() == 2


@pytest.fixture
def setup(world):
    return Setup(world)  # a Guangzhou call whose programmes are under the Guangdong profile


def test_pol_phone_a_guangdong_call_does_not_ask_for_or_keep_the_trainees_phones(setup, world, client):
    result = applications.application_from_file(
        call=setup.call,
        data=setup.form(
            [
                ["张伟", setup.ids[0], "13700137101", "主要负责人", "初始培训"],
                ["刘芳", setup.ids[1], "", "安全生产管理人员", "再培训"],  # none given: no fault either
            ]
        ),
        unit=world.ent_nanshan,
        actor=world.admin_nanshan,
    )
    assert (result.errors, result.phones_ignored) == ([], 1)
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone FROM enterprise_applicationtrainee")
        assert {row[0] for row in cursor.fetchall()} == {""}
    applications.accounts_open(result.application)
    for trainee in ApplicationTrainee.objects.all():
        assert stored_phone(trainee.user) == ("", None)
    # The individual's form does not ask for the own phone; the certificate's recipient phone is the contact.
    page = client.get(f"/enrol/{setup.call.pk}/individual/").content.decode()
    assert 'name="phone"' not in page
    assert 'name="recipient_phone"' in page
    # Under a profile that keeps phones, the form asks for it and a row without one is refused.
    shenzhen = RegionProfile.objects.get(code="shenzhen_construction")
    for programme in (setup.initial, setup.refresher):
        programme.profile = shenzhen
        programme.save(update_fields=["profile"])
    setup.call.refresh_from_db()
    assert 'name="phone"' in client.get(f"/enrol/{setup.call.pk}/individual/").content.decode()
    refused = applications.application_from_file(
        call=setup.call,
        data=setup.form([["王强", new_id_number("440106"), "", "主要负责人", "初始培训"]]),
        unit=world.ent_nanshan,
        actor=world.admin_nanshan,
    )
    assert [(e.row, e.column) for e in refused.errors] == [(8, "手机号码")]


def test_pol_phone_a_roster_import_ignores_the_phone_column_for_people_whose_region_keeps_none(
    world, programmes
):
    trained = make_user(world.ent_nanshan, name="已在广东培训")
    enrolment_create(learner=trained, programme=programmes["guangdong"])
    other = make_user(world.ent_futian, name="别的单位的人", phone="13511112222")
    newcomer = new_id_number()
    data = plain_roster(
        [
            # Someone else's number beside a Guangdong learner: not checked, not kept, no fault.
            ["已在广东培训", trained.id_number, "13511112222", "", ""],
            ["新来的", newcomer, "13700137009", "", ""],
        ]
    )
    result = roster.roster_import(
        unit=world.ent_nanshan, data=data, filename="名单.xlsx", actor=world.admin_nanshan
    )
    assert (result.imported, result.errors, result.phones_ignored) == (True, [], 1)
    assert stored_phone(trained) == ("", None)
    assert stored_phone(other)[1] == phone_index_of("13511112222")
    # A newcomer keeps the number until enrolled in a programme of a region that keeps none.
    newcomer_user = User.objects.get(id_index=User.objects.by_login(newcomer).get().id_index)
    assert stored_phone(newcomer_user)[1] == phone_index_of("13700137009")
    page = web_client_for(world.admin_nanshan).post(
        "/enterprise/people/import/",
        {"unit": world.ent_nanshan.pk, "file": _upload(data)},
    )
    assert "没有保存 1 人的手机号码" in page.content.decode()


def _upload(data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(
        "名单.xlsx", data, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
