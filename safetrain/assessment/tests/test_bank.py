"""EXM-01: question banks from Excel. The template imports; every faulty row is reported with row, column and
reason and, by default, nothing is imported; importing the valid rows is a choice; export and import round-trip;
importing the same file twice changes nothing."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook, load_workbook

from safetrain.assessment.bank import HEADERS, questions_export, questions_import, template_workbook
from safetrain.assessment.models import Question, QuestionKind
from safetrain.catalog.services import chapter_add, course_create, course_publish, lesson_add
from safetrain.catalog.tests.factories import published_programme
from safetrain.core.errors import DomainError
from safetrain.learning.tests.conftest import video_of
from safetrain.records.models import AuditEntry


@pytest.fixture
def programme(db):
    course = course_create(code="TJ-LAW", title="安全生产法律法规")
    lesson_add(chapter=chapter_add(course=course, title="章"), title="节", video=video_of(60))
    course_publish(course=course)
    return published_programme("tj-bank", [course], profile="tianjin_ce")


def workbook(*rows: list) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(HEADERS)
    for row in rows:
        sheet.append(row)
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # typed as text, as Excel stores '=… entered with a leading apostrophe
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def row(kind, stem, options=(), answer="", explanation="", point="", difficulty="", course=""):
    options = list(options) + [""] * (6 - len(options))
    return [kind, stem, *options, answer, explanation, point, difficulty, course]


GOOD = [
    row("单选", "安全帽的作用是____。", ["防止头部受伤", "装饰"], "A", "解析一", "个人防护", "易", "tj-law"),
    row(
        "多选",
        "“三违”包括（ ）。",
        ["违章指挥", "违章作业", "违反劳动纪律", "按章操作"],
        "A、B、C",
        "",
        "安全管理",
        "中",
    ),
    row("判断题", "特种作业人员必须持证上岗。", [], "√", "", "法律法规", "2"),
    row("填空", "安全生产方针：安全第一、____、____。", [], "预防为主;综合治理|综合治理方针", "", "", "难"),
]


def test_exm_01_the_template_and_a_good_file_import_and_a_second_import_changes_nothing(programme):
    template = questions_import(programme=programme, data=template_workbook())
    assert (template.imported, template.created, template.errors) == (True, 4, [])
    result = questions_import(programme=programme, data=workbook(*GOOD))
    assert (result.imported, result.created, result.unchanged) == (True, 4, 0)
    single, multiple, true_false, fill = Question.objects.filter(programme=programme).order_by("pk")[4:]
    assert (single.kind, single.answer, single.course.code, single.difficulty) == (
        QuestionKind.SINGLE,
        [0],
        "TJ-LAW",
        1,
    )
    assert (multiple.kind, multiple.answer) == (QuestionKind.MULTIPLE, [0, 1, 2])
    assert (true_false.options, true_false.answer, true_false.difficulty) == (["正确", "错误"], [0], 2)
    assert fill.answer == [["预防为主"], ["综合治理", "综合治理方针"]]
    again = questions_import(programme=programme, data=workbook(*GOOD))
    assert (again.created, again.unchanged) == (0, 4)
    assert Question.objects.filter(programme=programme).count() == 8
    assert AuditEntry.objects.filter(action="assessment.questions_import").count() == 3


BAD = [
    row("问答", "这是什么题型？", [], "A"),  # row 2: type
    row("单选", "", ["甲", "乙"], "A"),  # row 3: empty stem
    row("单选", "只有一个选项", ["甲"], "A"),  # row 4: options
    row("单选", "答案超出选项", ["甲", "乙"], "C"),  # row 5: answer
    row("单选", "单选两个答案", ["甲", "乙", "丙"], "AB"),  # row 6
    row("多选", "多选一个答案", ["甲", "乙", "丙"], "B"),  # row 7
    row("多选", "选项中间空了", ["甲", "", "丙"], "AC"),  # row 8
    row("判断", "判断答案写错", [], "也许"),  # row 9
    row("填空", "没有空的填空题", [], "答案"),  # row 10
    row("填空", "两个空____和____", [], "只有一个"),  # row 11
    row("单选", "难度写错", ["甲", "乙"], "A", difficulty="很难"),  # row 12
    row("单选", "课程不在项目中", ["甲", "乙"], "A", course="NOPE"),  # row 13
    row("单选", "安全帽的作用是____。", ["防止头部受伤", "装饰"], "A"),  # row 14: fine
    row("单选", "安全帽的作用是____。", ["防止头部受伤", "装饰"], "B"),  # row 15: same question as row 14
]


def test_exm_01_every_faulty_row_is_reported_and_nothing_is_imported(programme):
    result = questions_import(programme=programme, data=workbook(*BAD))
    assert result.imported is False
    assert not Question.objects.exists()
    where = {(e.row, e.column) for e in result.errors}
    assert where == {
        (2, "题型"),
        (3, "题干"),
        (4, "选项A"),
        (5, "答案"),
        (6, "答案"),
        (7, "答案"),
        (8, "选项B"),
        (9, "答案"),
        (10, "题干"),
        (11, "答案"),
        (12, "难度"),
        (13, "课程代码"),
        (15, "题干"),
    }
    messages = {e.row: e.message for e in result.errors}
    assert "单选、多选、判断或填空" in messages[2]
    assert "第 14 行" in messages[15]
    assert "有 2 个空" in messages[11]


def test_exm_01_by_choice_the_valid_rows_are_imported_and_the_rest_reported(programme):
    result = questions_import(programme=programme, data=workbook(*BAD), valid_rows_only=True)
    assert (result.imported, result.created, result.skipped_rows) == (True, 1, 13)
    assert Question.objects.get().stem == "安全帽的作用是____。"


def test_exm_01_export_and_import_give_the_same_bank(programme):
    questions_import(programme=programme, data=workbook(*GOOD))
    exported = questions_export(programme=programme)
    sheet = load_workbook(io.BytesIO(exported)).active
    assert [c.value for c in sheet[1]] == HEADERS
    other = published_programme("tj-bank-2", list(programme.courses.all()), profile="tianjin_ce")
    result = questions_import(programme=other, data=exported)
    assert (result.created, result.errors) == (4, [])
    fields = (
        "kind",
        "stem",
        "options",
        "answer",
        "explanation",
        "knowledge_point",
        "difficulty",
        "course_id",
    )
    assert list(other.questions.order_by("pk").values_list(*fields)) == list(
        programme.questions.order_by("pk").values_list(*fields)
    )


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"PK\x03\x04 not really a workbook", "not_xlsx"),
        ("题型,题干\n单选,x".encode(), "not_xlsx"),
        (None, "not_question_template"),
        (b"", "not_xlsx"),
    ],
)
def test_exm_01_a_file_that_is_not_the_template_is_refused_with_a_reason(programme, data, code):
    if data is None:
        book = Workbook()
        book.active.append(["姓名", "身份证号"])
        out = io.BytesIO()
        book.save(out)
        data = out.getvalue()
    with pytest.raises(DomainError) as refused:
        questions_import(programme=programme, data=data)
    assert refused.value.code == code
    with pytest.raises(DomainError) as empty:
        questions_import(programme=programme, data=workbook())
    assert empty.value.code == "empty_file"


def test_exm_01_the_bank_page_imports_exports_and_shows_errors(programme, world, web_client):
    client = web_client(world.operator)
    page = client.get(f"/assessment/questions/?programme={programme.code}")
    assert page.status_code == 200
    bad = client.post(
        "/assessment/questions/import/",
        {"programme": programme.code, "file": SimpleUploadedFile("bad.xlsx", workbook(*BAD))},
    )
    assert bad.status_code == 400
    text = bad.content.decode()
    assert "没有导入任何题目" in text
    assert "课程代码" in text
    good = client.post(
        "/assessment/questions/import/",
        {"programme": programme.code, "file": SimpleUploadedFile("good.xlsx", workbook(*GOOD))},
    )
    assert good.status_code == 302
    assert Question.objects.count() == 4
    export = client.get(f"/assessment/questions/export/?programme={programme.code}")
    assert export["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "filename*=utf-8''" in export["Content-Disposition"]
    assert client.get("/assessment/questions/template/").status_code == 200
    assert web_client(world.admin_nanshan).get("/assessment/questions/").status_code == 403


def test_exm_01_the_demo_bank_can_fill_the_tianjin_paper_and_exports_cleanly(programme):
    from safetrain.assessment.demo_bank import seed_demo_bank

    assert seed_demo_bank(programme) == 120
    assert seed_demo_bank(programme) == 0  # once
    counts = {k: programme.questions.filter(kind=k).count() for k in QuestionKind.values}
    # The Tianjin preset draws 40 single, 10 multiple and 20 true/false: the bank holds more of each.
    assert counts[QuestionKind.SINGLE] >= 40
    assert counts[QuestionKind.MULTIPLE] >= 10
    assert counts[QuestionKind.TRUE_FALSE] >= 20
    for q in programme.questions.all():
        assert q.answer, q.stem
        if q.kind == QuestionKind.MULTIPLE:
            assert len(q.answer) >= 2
    # Its export is a valid bank file: importing it elsewhere gives the same 120 questions without an error.
    other = published_programme("tj-bank-3", list(programme.courses.all()), profile="tianjin_ce")
    result = questions_import(programme=other, data=questions_export(programme=programme))
    assert (result.created, result.errors) == (120, [])


def test_exm_01_the_import_command_reports_rows_and_fails_on_errors(programme, tmp_path):
    from django.core.management import CommandError, call_command

    good, bad = tmp_path / "good.xlsx", tmp_path / "bad.xlsx"
    good.write_bytes(workbook(*GOOD))
    bad.write_bytes(workbook(*BAD))
    out = io.StringIO()
    call_command("import_questions", str(good), "--programme", programme.code, stdout=out)
    assert "4 imported" in out.getvalue()
    err = io.StringIO()
    with pytest.raises(CommandError, match="nothing imported: 13 errors"):
        call_command("import_questions", str(bad), "--programme", programme.code, stderr=err)
    assert "row 15" in err.getvalue()
    with pytest.raises(CommandError, match="no programme"):
        call_command("import_questions", str(good), "--programme", "nope")


def test_exm_01_damaged_files_and_cells_excel_changed_get_a_clear_message(programme):
    import datetime as dt
    import zipfile

    # A workbook whose sheet XML is broken.
    good = io.BytesIO(workbook(*GOOD))
    broken = io.BytesIO()
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(broken, "w") as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename.startswith("xl/worksheets/"):
                data = data[: len(data) // 2]
            target.writestr(info, data)
    with pytest.raises(DomainError) as damaged:
        questions_import(programme=programme, data=broken.getvalue())
    assert damaged.value.code == "not_xlsx"
    # A stem Excel turned into a date is reported, not imported as "2024-01-01 00:00:00".
    dated = row("单选", "x", ["甲", "乙"], "A")
    dated[1] = dt.date(2024, 1, 1)
    result = questions_import(programme=programme, data=workbook(dated, GOOD[0]))
    assert [(e.row, e.column) for e in result.errors] == [(2, "题干")]
    assert "日期" in result.errors[0].message
    assert not result.imported


def test_exm_01_a_stem_that_looks_like_a_formula_survives_export_and_import(programme):
    questions_import(programme=programme, data=workbook(row("判断", "=1+1 的结果是 2。", [], "正确")))
    exported = questions_export(programme=programme)
    cell = load_workbook(io.BytesIO(exported)).active["B2"]
    assert (cell.value, cell.data_type) == ("=1+1 的结果是 2。", "s")
    other = published_programme("tj-bank-4", list(programme.courses.all()), profile="tianjin_ce")
    assert questions_import(programme=other, data=exported).created == 1
