"""ENT-02, EXM-01: legacy .xls workbooks (Excel 97-2003, as many government templates still are) import like .xlsx,
rosters and question banks alike, through the one guarded reader (core.safeimport) and its limits; and the roster's
faulty rows are named as the admin finds them, with one message per fault and a summary that adds up."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import xlwt
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from conftest import new_id_number, web_client_for
from safetrain.assessment.bank import HEADERS, questions_import
from safetrain.assessment.models import Question
from safetrain.core.errors import DomainError
from safetrain.core.safeimport import workbook_rows
from safetrain.enterprise import roster
from safetrain.enterprise.models import Personnel
from safetrain.enterprise.tests.test_report import Site


@pytest.fixture(autouse=True)
def chinese():
    with translation.override("zh-hans"):
        yield


def xls(rows: list[list[object]], *, sheets: int = 1) -> bytes:
    """A real .xls file (BIFF8, as Excel 2003 and WPS save it)."""
    book = xlwt.Workbook(encoding="utf-8")
    sheet = book.add_sheet("报名表")
    dates = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for r, values in enumerate(rows):
        for c, value in enumerate(values):
            if isinstance(value, dt.date):
                sheet.write(r, c, value, dates)
            elif value is not None:
                sheet.write(r, c, value)
    for n in range(1, sheets):
        book.add_sheet(f"Sheet{n + 1}")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def guangzhou_xls(people: list[list[object]]) -> bytes:
    return xls(
        [
            ["企业主要负责人和安全生产管理人员 线上培训报名表"],
            ["单位名称：", "南山建设公司"],
            ["联系人：", "李四", "联系电话：", "13800138000"],
            ["参训人员信息"],
            ["序号", "姓名", "身份证号码", "手机号码", "证书类型", "培训类别"],
            *[[n, *person] for n, person in enumerate(people, start=1)],
        ]
    )


def test_ent_02_the_reader_gives_an_xls_sheet_as_it_gives_an_xlsx_one(settings):
    data = xls([["姓名", "入职日期", "人数"], [], ["张三", dt.date(2026, 11, 2), 3], ["李四", None, 1.5]])
    assert data[:4] == b"\xd0\xcf\x11\xe0"  # really the legacy format
    rows = workbook_rows(data)
    assert rows[:2] == [("姓名", "入职日期", "人数"), ()]
    name, day, count = rows[2]
    assert (name, day.date(), count) == ("张三", dt.date(2026, 11, 2), 3.0)
    assert rows[3:] == [("李四", None, 1.5)]
    settings.IMPORT_MAX_ROWS = 3
    with pytest.raises(DomainError) as refused:
        workbook_rows(xls([["x"]] * 5))
    assert refused.value.code == "file_too_many_rows"
    settings.IMPORT_MAX_SHEETS = 2
    with pytest.raises(DomainError) as refused:
        workbook_rows(xls([["x"]], sheets=3))
    assert refused.value.code == "file_too_many_sheets"
    with pytest.raises(DomainError) as refused:
        # An .xls signature, nothing behind it.
        workbook_rows(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600)
    assert refused.value.code == "not_xlsx"
    assert ".xls" in refused.value.message


def test_ent_02_a_roster_names_each_faulty_row_by_row_number_serial_and_name_once_per_fault(world):
    ids = [new_id_number(), new_id_number(), new_id_number()]
    data = guangzhou_xls(
        [
            ["张伟", ids[0], "13700137001", "主要负责人", "初始培训"],
            ["刘芳", ids[1], "1370013", "安全生产管理人员", "初始培训"],  # a malformed phone
            ["王强", ids[2], "", "主要负责人", "初始培训"],  # no phone
        ]
    )
    result = roster.roster_import(
        unit=world.ent_nanshan, data=data, filename="报名表.xls", actor=world.admin_nanshan
    )
    assert not result.imported
    by_row = {}
    for error in result.errors:
        by_row.setdefault(error.where, []).append(error.column)
    # Spreadsheet row 7 is the trainee numbered 2: both are named, with the name.
    assert by_row == {"第 7 行（序号 2，刘芳）": ["手机号码"], "第 8 行（序号 3，王强）": ["手机号码"]}
    malformed, missing = result.errors
    assert "须填写" not in malformed.message
    assert "手机号码" in missing.message


def test_ent_02_an_xls_roster_imports_through_the_page_with_a_summary_that_adds_up(world):
    ids = [new_id_number(), new_id_number()]
    client = web_client_for(world.admin_nanshan)
    upload = SimpleUploadedFile(
        "报名表.xls",
        guangzhou_xls(
            [
                ["张伟", ids[0], "13700137001", "主要负责人", "初始培训"],
                ["刘芳", ids[1], 13700137002, "安全生产管理人员", "再培训"],  # a phone typed as a number
            ]
        ),
        content_type="application/vnd.ms-excel",
    )
    page = client.post("/enterprise/people/import/", {"unit": world.ent_nanshan.pk, "file": upload})
    html = page.content.decode()
    assert page.status_code == 200, html
    assert "已导入 2 人：新开账号 2 人。" in html
    assert Personnel.objects.filter(organisation=world.ent_nanshan).count() == 2
    form = client.get("/enterprise/people/import/").content.decode()
    assert ".xls" in form


def test_exm_01_a_question_bank_in_xls_imports_like_xlsx(world):
    programme = Site(world).programme
    options = ["防止头部受伤", "装饰", "", "", "", ""]
    rows = [
        list(HEADERS),
        ["单选", "安全帽的作用是____。", *options, "A", "解析一", "个人防护", "易", ""],
        ["判断题", "特种作业人员必须持证上岗。", *[""] * 6, "√", "", "法律法规", 2, ""],
    ]
    result = questions_import(programme=programme, data=xls(rows))
    assert (result.imported, result.created, result.errors) == (True, 2, [])
    single, true_false = Question.objects.filter(programme=programme).order_by("pk")
    assert (single.answer, single.difficulty) == ([0], 1)
    assert (true_false.answer, true_false.difficulty) == ([0], 2)
