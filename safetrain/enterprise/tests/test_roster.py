"""ENT-01, ENT-02, ACC-03: roster import from the Guangzhou enrolment form and the people template, every faulty row
named, all or nothing (or the valid rows by choice), re-import changes nothing, a file saved by LibreOffice Calc
imports the same, the account list, leaving the site."""

from __future__ import annotations

import io
import shutil
import subprocess

import pytest
from openpyxl import Workbook, load_workbook

from conftest import make_org, new_id_number, web_client_for
from safetrain.accounts.identity import initial_password_for
from safetrain.accounts.models import Membership, User, id_index_of, phone_index_of
from safetrain.catalog.models import JobType
from safetrain.core.errors import PermissionDenied
from safetrain.enterprise import roster
from safetrain.enterprise.models import Personnel, RosterImport
from safetrain.orgs.models import OrganisationKind


def guangzhou_form(people: list[list[object]], invoice_title: str = "南山建设公司") -> bytes:
    """The 附件1 form as an office worker fills it in: header block, table, invoice block, notes."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["企业主要负责人和安全生产管理人员 线上培训报名表"])
    sheet.append(["单位名称：", "南山建设公司"])
    sheet.append(["联系人：", "李四", "联系电话：", "13800138000"])
    sheet.append(["邮寄证书信息", "收件人：", "王五", "收件人电话：", "13900139000"])
    sheet.append(["", "地址：", "深圳市南山区科技园1号"])
    sheet.append(["参训人员信息"])
    sheet.append(["序号", "姓名", "身份证号码", "手机号码", "证书类型", "培训类别"])
    for i, person in enumerate(people, start=1):
        sheet.append([i, *person])
    sheet.append(["开票单位信息 (必填)", "", "开票单位全称：", invoice_title])
    sheet.append(["注：证书名称填“主要负责人”或“安全生产管理人员”"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def plain_roster(people: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["姓名", "身份证号码", "手机号码", "工种", "班组"])
    for person in people:
        sheet.append(person)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_ent_02_the_guangzhou_form_imports_with_initial_passwords(world):
    ids = [new_id_number(), new_id_number()]
    data = guangzhou_form(
        [
            ["张伟", ids[0], "13700137001", "主要负责人", "初始培训"],
            ["刘芳", ids[1], "13700137002", "安全生产管理人员", "再培训"],
        ]
    )
    result = roster.roster_import(
        unit=world.ent_nanshan, data=data, filename="报名表.xlsx", actor=world.admin_nanshan
    )
    assert result.imported
    assert (result.created, result.linked, result.unchanged, result.errors) == (2, 0, 0, [])
    user = User.objects.get(id_index=id_index_of(ids[0]))
    assert user.must_change_password
    assert user.check_password(initial_password_for(ids[0]))
    assert Membership.objects.filter(user=user, organisation=world.ent_nanshan, role="learner").exists()
    assert Personnel.objects.filter(organisation=world.ent_nanshan).count() == 2
    record = RosterImport.objects.get()
    assert record.template == "guangzhou"
    assert record.header["unit"] == "南山建设公司"
    assert record.header["contact"] == "李四"
    assert record.header["recipient"] == "王五"
    assert record.header["address"] == "深圳市南山区科技园1号"
    assert [r["certificate_type"] for r in record.rows] == ["主要负责人", "安全生产管理人员"]
    # The same file again changes nothing.
    again = roster.roster_import(
        unit=world.ent_nanshan, data=data, filename="报名表.xlsx", actor=world.admin_nanshan
    )
    assert (again.created, again.linked, again.unchanged) == (0, 0, 2)
    assert User.objects.filter(id_index__in=[id_index_of(i) for i in ids]).count() == 2


def test_ent_02_every_faulty_row_is_named_and_nothing_is_imported(world):
    good = new_id_number()
    bad_checksum = good[:-1] + ("0" if good[-1] != "0" else "1")
    data = guangzhou_form(
        [
            ["张伟", good, "13700137001", "主要负责人", "初始培训"],  # row 8: fine
            ["刘芳", bad_checksum, "13700137002", "主要负责人", "初始培训"],  # row 9
            ["陈静", good, "13700137003", "主要负责人", "初始培训"],  # row 10: same ID as row 8
            ["杨洋", new_id_number(), "13700137004", "项目经理", "初始培训"],  # row 11
            [world.learner_futian.name, world.learner_futian.id_number, "", "主要负责人", "复训"],  # row 12
            ["赵磊", 440305199005171234, "13700137006", "主要负责人", "初始培训"],  # row 13: a number cell
            ["", "", "1370013700", "", ""],  # row 14: no name, no ID, 10-digit phone
        ]
    )
    result = roster.roster_import(
        unit=world.ent_nanshan, data=data, filename="x.xlsx", actor=world.admin_nanshan
    )
    assert not result.imported
    found = {(e.row, e.column) for e in result.errors}
    assert (9, "身份证号码") in found
    assert (10, "身份证号码") in found
    assert (11, "证书类型") in found
    assert (12, "身份证号码") in found  # registered with another unit
    assert (12, "培训类别") in found
    assert (13, "身份证号码") in found
    assert {(14, "姓名"), (14, "手机号码")} <= found
    messages = {(e.row, e.column): e.message for e in result.errors}
    assert "8" in messages[(10, "身份证号码")]
    assert world.ent_futian.name in messages[(12, "身份证号码")]
    assert not User.objects.filter(id_index=id_index_of(good)).exists()
    assert not RosterImport.objects.exists()
    # By choice, only the valid row goes in and the result says how many were left out.
    partial = roster.roster_import(
        unit=world.ent_nanshan, data=data, filename="x.xlsx", actor=world.admin_nanshan, valid_rows_only=True
    )
    assert partial.imported
    assert (partial.created, partial.left_out) == (1, 6)
    assert User.objects.filter(id_index=id_index_of(good)).exists()


def test_ent_02_the_people_template_with_job_types_and_teams(world):
    rebar = JobType.objects.first()
    zhou = new_id_number()
    data = plain_roster(
        [
            ["周杰", zhou, "13600136001", rebar.name, world.team.name],
            ["吴敏", new_id_number(), "", rebar.code, ""],
            ["郑强", new_id_number(), "", "宇航员", "不存在的班组"],
        ]
    )
    refused = roster.roster_import(
        unit=world.project, data=data, filename="p.xlsx", actor=world.admin_nanshan
    )
    assert {(e.row, e.column) for e in refused.errors} == {(4, "工种"), (4, "班组")}
    done = roster.roster_import(
        unit=world.project, data=data, filename="p.xlsx", actor=world.admin_nanshan, valid_rows_only=True
    )
    assert done.created == 2
    person = Personnel.objects.get(user__id_index=id_index_of(zhou))
    assert person.job_type == rebar
    assert Membership.objects.filter(user=person.user, organisation=world.team).exists()


def test_ent_02_a_file_saved_by_libreoffice_calc_imports_the_same(world, tmp_path):
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice, "LibreOffice Calc is missing: `make system-deps` installs libreoffice-calc-nogui"
    source = tmp_path / "in" / "报名表.xlsx"
    source.parent.mkdir()
    source.write_bytes(guangzhou_form([["张伟", new_id_number(), "13700137001", "主要负责人", "初始培训"]]))
    out = tmp_path / "out"
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{tmp_path}/lo-profile",
            "--headless",
            "--convert-to",
            "xlsx:Calc MS Excel 2007 XML",
            "--outdir",
            str(out),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    converted = (out / "报名表.xlsx").read_bytes()
    assert converted != source.read_bytes()  # really written by Calc
    result = roster.roster_import(
        unit=world.ent_nanshan, data=converted, filename="calc.xlsx", actor=world.admin_nanshan
    )
    assert result.imported
    assert result.created == 1
    assert RosterImport.objects.get().header["unit"] == "南山建设公司"


def test_ent_02_bad_files_get_a_clear_message(world):
    from safetrain.core.errors import DomainError

    with pytest.raises(DomainError, match="xlsx"):
        roster.roster_import(
            unit=world.ent_nanshan, data=b"not excel", filename="x.xlsx", actor=world.admin_nanshan
        )
    with pytest.raises(DomainError, match="姓名"):
        roster.read_roster(_workbook_without_heading())
    with pytest.raises(DomainError, match="至少填写一人|at least one"):
        roster.roster_import(
            unit=world.ent_nanshan, data=plain_roster([]), filename="x.xlsx", actor=world.admin_nanshan
        )
    with pytest.raises(PermissionDenied):
        roster.roster_import(
            unit=world.ent_futian,
            data=plain_roster([["甲", new_id_number(), "", "", ""]]),
            filename="x.xlsx",
            actor=world.admin_nanshan,
        )


def _workbook_without_heading() -> bytes:
    workbook = Workbook()
    workbook.active.append(["名字", "号码"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_ent_01_people_page_import_account_list_and_leaving(world):
    client = web_client_for(world.admin_nanshan)
    ids = [new_id_number(), new_id_number()]
    upload = _upload(plain_roster([["周杰", ids[0], "", "", ""], ["吴敏", ids[1], "", "", ""]]))
    response = client.post("/enterprise/people/import/", {"unit": world.ent_nanshan.pk, "file": upload})
    assert response.status_code == 200
    assert 'data-testid="import-done"' in response.content.decode()
    page = client.get("/enterprise/people/", {"unit": world.ent_nanshan.pk}).content.decode()
    assert "周杰" in page
    assert ids[0] not in page  # masked on the page
    workbook = load_workbook(
        io.BytesIO(client.get(f"/enterprise/people/accounts/{world.ent_nanshan.pk}/").content)
    )
    rows = {r[0]: r for r in workbook.active.iter_rows(min_row=2, values_only=True)}
    assert rows["周杰"][1] == ids[0]
    assert rows["周杰"][2] == initial_password_for(ids[0])
    person = Personnel.objects.get(user__id_index=id_index_of(ids[0]))
    assert client.post(f"/enterprise/people/{person.pk}/leave/").status_code == 302
    person.refresh_from_db()
    assert not person.on_site
    assert person.left_on is not None
    assert not Membership.objects.filter(
        user=person.user, organisation=world.ent_nanshan, is_active=True
    ).exists()
    assert User.objects.filter(pk=person.user_id, is_active=True).exists()  # the account and its records stay
    refused = client.post(
        "/enterprise/people/import/",
        {"unit": world.ent_nanshan.pk, "file": _upload(plain_roster([["坏", "123", "", "", ""]]))},
    )
    assert refused.status_code == 400
    assert 'data-testid="import-errors"' in refused.content.decode()
    futian = web_client_for(world.admin_futian)
    assert futian.get(f"/enterprise/people/accounts/{world.ent_nanshan.pk}/").status_code == 404
    assert futian.post(f"/enterprise/people/{person.pk}/leave/").status_code == 404
    assert web_client_for(world.learner_nanshan).get("/enterprise/people/").status_code == 403


def _upload(data: bytes, name: str = "名单.xlsx") -> io.BytesIO:
    upload = io.BytesIO(data)
    upload.name = name
    return upload


def test_templates_download(world):
    client = web_client_for(world.admin_nanshan)
    for kind in ("plain", "guangzhou"):
        response = client.get(f"/enterprise/people/template/{kind}/")
        assert response.status_code == 200
        roster.read_roster(response.content)  # the template itself is a readable roster
    assert client.get("/enterprise/people/template/other/").status_code == 404


def test_ent_02_the_header_and_invoice_blocks_are_read_as_offices_fill_them(world):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["单位名称：南山建设公司"])  # label and value in one cell
    sheet.append(["联系人：", "", "联系电话：", "13800138000"])  # the contact left empty
    sheet.append(["序号", "姓名", "身份证号码", "手机号码", "证书类型", "培训类别"])
    sheet.append([1, "张  伟", new_id_number(), "13700137001", "主要负责人", "初始培训"])
    sheet.append(["开票单位信息 (必填)", "", "开票单位全称：", "南山建设公司"])
    sheet.append(["", "", "纳税人识别号（统一信用代码）：", "91440300MA5D8K2Q7B"])
    sheet.append(["", "", "电子邮箱(用于发送电子发票)：", "caiwu@example.cn"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    parsed = roster.read_roster(buffer.getvalue())
    assert parsed.header["unit"] == "南山建设公司"
    assert parsed.header["contact"] == ""
    assert parsed.header["contact_phone"] == "13800138000"
    assert parsed.header["invoice_title"] == "南山建设公司"
    assert parsed.header["taxpayer_id"] == "91440300MA5D8K2Q7B"
    assert parsed.header["invoice_email"] == "caiwu@example.cn"
    assert len(parsed.rows) == 1
    result = roster.roster_import(
        unit=world.ent_nanshan, data=buffer.getvalue(), filename="x.xlsx", actor=world.admin_nanshan
    )
    assert result.created == 1
    assert Personnel.objects.get().user.name == "张伟"  # the padding between the characters goes


def test_ent_02_names_too_long_and_the_enterprise_learners_on_its_projects(world):
    long_name = "名" * 61
    data = plain_roster(
        [
            [long_name, new_id_number(), "", "", ""],
            [world.learner_nanshan.name, world.learner_nanshan.id_number, "", "", ""],  # the enterprise's own
        ]
    )
    result = roster.roster_import(unit=world.project, data=data, filename="x.xlsx", actor=world.admin_nanshan)
    assert [(e.row, e.column) for e in result.errors] == [(2, "姓名")]
    done = roster.roster_import(
        unit=world.project, data=data, filename="x.xlsx", actor=world.admin_nanshan, valid_rows_only=True
    )
    assert (done.linked, done.left_out) == (1, 1)


def test_ent_01_the_account_list_holds_only_people_on_site(world):
    ids = [new_id_number(), new_id_number()]
    roster.roster_import(
        unit=world.ent_nanshan,
        data=plain_roster([["周杰", ids[0], "", "", ""], ["吴敏", ids[1], "", "", ""]]),
        filename="x.xlsx",
        actor=world.admin_nanshan,
    )
    roster.person_leave(
        person=Personnel.objects.get(user__id_index=id_index_of(ids[1])), actor=world.admin_nanshan
    )
    sheet = load_workbook(
        io.BytesIO(roster.account_list(unit=world.ent_nanshan, actor=world.admin_nanshan))
    ).active
    listed = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert listed == [ids[0]]
    assert web_client_for(world.admin_nanshan).get("/enterprise/people/", {"unit": "abc"}).status_code == 200


def test_ent_02_phones_are_required_on_the_form_and_never_taken_from_another_account(world):
    other = User.objects.get(pk=world.learner_team.pk)
    other.phone = "13511112222"
    other.phone_index = phone_index_of("13511112222")
    other.save(update_fields=["phone", "phone_index"])
    data = guangzhou_form(
        [
            ["张伟", new_id_number(), "", "主要负责人", "初始培训"],  # row 8: a new person needs a phone
            [
                world.learner_nanshan.name,
                world.learner_nanshan.id_number,
                "13511112222",
                "主要负责人",
                "再培训",
            ],
        ]
    )
    result = roster.roster_import(
        unit=world.ent_nanshan, data=data, filename="x.xlsx", actor=world.admin_nanshan
    )
    assert {(e.row, e.column) for e in result.errors} == {(8, "手机号码"), (9, "手机号码")}


def test_ent_01_moving_to_another_team_ends_the_old_team_membership(world):
    other_team = make_org("木工班组", OrganisationKind.TEAM, "440305", world.project)
    person = new_id_number()
    first = plain_roster([["周杰", person, "", "", world.team.name]])
    roster.roster_import(unit=world.project, data=first, filename="a.xlsx", actor=world.admin_nanshan)
    moved = plain_roster([["周杰", person, "", "", other_team.name]])
    roster.roster_import(unit=world.project, data=moved, filename="b.xlsx", actor=world.admin_nanshan)
    user = User.objects.get(id_index=id_index_of(person))
    active = set(
        Membership.objects.filter(user=user, is_active=True).values_list("organisation_id", flat=True)
    )
    assert active == {other_team.pk}


def test_ent_02_a_large_roster_is_imported_in_the_background_with_its_progress(
    world, settings, django_capture_on_commit_callbacks
):
    """Hundreds of new accounts mean minutes of password hashing: beyond ROSTER_INLINE_NEW_ACCOUNTS the import
    runs as a job (Celery) and the page follows it; a faulty roster is still answered at once."""
    from safetrain.enterprise.models import JobState, RosterJob

    settings.ROSTER_INLINE_NEW_ACCOUNTS = 1
    people = [[f"工人{i}", new_id_number(), f"1370013720{i}", "钢筋工", ""] for i in range(3)]
    client = web_client_for(world.admin_nanshan)
    faulty = client.post(
        "/enterprise/people/import/",
        {"unit": world.project.pk, "file": _upload(plain_roster([*people, ["坏号", "123", "", "", ""]]))},
    )
    assert faulty.status_code == 400
    assert not RosterJob.objects.exists()
    with django_capture_on_commit_callbacks(
        execute=True
    ):  # the job runs after the commit (eager Celery here)
        response = client.post(
            "/enterprise/people/import/", {"unit": world.project.pk, "file": _upload(plain_roster(people))}
        )
    job = RosterJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/enterprise/people/import/jobs/{job.pk}/"
    job.refresh_from_db()
    assert (job.state, job.done, job.total) == (JobState.DONE, 3, 3)
    assert job.result["created"] == 3
    assert Personnel.objects.filter(organisation=world.project).count() == 3
    page = client.get(response["Location"]).content.decode()
    assert 'data-testid="import-done"' in page
    assert "已导入 3 人：新开账号 3 人。" in page
    assert web_client_for(world.admin_futian).get(response["Location"]).status_code == 404
    assert roster.roster_job_run(job.pk).state == JobState.DONE  # a finished job is never run again


def test_ent_02_a_background_import_rechecks_the_file_and_says_what_changed_since(
    world, settings, django_capture_on_commit_callbacks
):
    from conftest import make_user
    from safetrain.enterprise.models import JobState, RosterJob

    settings.ROSTER_INLINE_NEW_ACCOUNTS = 0
    number = new_id_number()
    with django_capture_on_commit_callbacks(execute=False):  # queued, not run yet
        job = roster.roster_import_start(
            unit=world.project,
            data=plain_roster([["张三", number, "", "", ""]]),
            filename="a.xlsx",
            actor=world.admin_nanshan,
        )
    assert isinstance(job, RosterJob)
    make_user(world.ent_futian, name="张三", id_number=number)  # registered elsewhere meanwhile
    job = roster.roster_job_run(job.pk)
    assert job.state == JobState.DONE
    assert job.result["imported"] is False
    assert "福田化工公司" in job.result["errors"][0]["message"]
    assert not Personnel.objects.filter(organisation=world.project).exists()


def test_ops_04_a_job_whose_message_the_broker_lost_is_sent_again_and_runs_once(
    world, settings, django_capture_on_commit_callbacks
):
    """Redis lost the task (a restart without persistence, a failover): the job waits in the database, and the
    periodic re-send (enterprise.requeue_waiting) runs it; a second message finds it done and changes nothing."""
    import datetime as dt

    from safetrain.enterprise.models import JobState, RosterJob

    settings.ROSTER_INLINE_NEW_ACCOUNTS = 0
    with django_capture_on_commit_callbacks(execute=False):  # the message never reaches a worker
        job = roster.roster_import_start(
            unit=world.project,
            data=plain_roster([["李四", new_id_number(), "", "", ""]]),
            filename="a.xlsx",
            actor=world.admin_nanshan,
        )
    assert (
        roster.roster_jobs_requeue_waiting(older_than=dt.timedelta(minutes=30)) == 0
    )  # not waiting long yet
    RosterJob.objects.filter(pk=job.pk).update(created_at=job.created_at - dt.timedelta(minutes=31))
    assert (
        roster.roster_jobs_requeue_waiting(older_than=dt.timedelta(minutes=30)) == 1
    )  # eager Celery: runs now
    job.refresh_from_db()
    assert (job.state, job.done) == (JobState.DONE, 1)
    assert Personnel.objects.filter(organisation=world.project).count() == 1
    assert roster.roster_jobs_requeue_waiting(older_than=dt.timedelta(minutes=30)) == 0
    assert roster.roster_job_run(job.pk).state == JobState.DONE
    assert Personnel.objects.filter(organisation=world.project).count() == 1


def _upload(data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(
        "roster.xlsx", data, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
