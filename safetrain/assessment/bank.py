"""Question-bank import and export in Excel (EXM-01), with openpyxl.

The template (also downloadable from the bank page, sheet 填写说明 explains it) has one question per row:

    题型 | 题干 | 选项A … 选项F | 答案 | 解析 | 知识点 | 难度 | 课程代码

- 题型: 单选, 多选, 判断 or 填空 (单选题 … also accepted).
- 选项: choice questions need at least two options, filled from A without gaps; true/false and fill-in leave them
  empty.
- 答案: single choice one letter (B); multiple choice two or more letters (ACD, A,C,D or A、C、D); true/false 正确 or
  错误 (对/错, √/×, 是/否 also accepted); fill-in one answer per blank (blanks are ____ in the stem), blanks
  separated by ; and accepted alternatives by | (e.g. 3|三;安全员).
- 难度: 易, 中 or 难 (or 1-3); empty means 中.
- 课程代码: optional, a course of the programme.

Every faulty row is reported with its row number, column and reason. By default nothing is imported when any row is
faulty; the "import the valid rows" choice imports the others and says so. A question already in the bank (same type,
stem and options) is left as it is, so importing the same file twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill

from safetrain.assessment.models import TRUE_FALSE_OPTIONS, Difficulty, Question, QuestionKind, fingerprint
from safetrain.catalog.models import Course, Programme
from safetrain.core.errors import DomainError
from safetrain.core.excel import RowError, cell_text
from safetrain.core.safeimport import workbook_rows
from safetrain.records.services import audit_log

OPTION_LETTERS = "ABCDEF"
HEADERS = [
    "题型",
    "题干",
    *[f"选项{letter}" for letter in OPTION_LETTERS],
    "答案",
    "解析",
    "知识点",
    "难度",
    "课程代码",
]
KIND_NAMES = {
    "单选": QuestionKind.SINGLE,
    "单选题": QuestionKind.SINGLE,
    "单项选择题": QuestionKind.SINGLE,
    "多选": QuestionKind.MULTIPLE,
    "多选题": QuestionKind.MULTIPLE,
    "多项选择题": QuestionKind.MULTIPLE,
    "判断": QuestionKind.TRUE_FALSE,
    "判断题": QuestionKind.TRUE_FALSE,
    "填空": QuestionKind.FILL,
    "填空题": QuestionKind.FILL,
}
KIND_LABELS = {
    QuestionKind.SINGLE: "单选",
    QuestionKind.MULTIPLE: "多选",
    QuestionKind.TRUE_FALSE: "判断",
    QuestionKind.FILL: "填空",
}
TRUE_WORDS = {"正确", "对", "√", "是", "t", "true", "y"}
FALSE_WORDS = {"错误", "错", "×", "x", "否", "f", "false", "n"}
DIFFICULTY_NAMES = {"易": 1, "简单": 1, "1": 1, "中": 2, "中等": 2, "2": 2, "难": 3, "困难": 3, "3": 3, "": 2}
DIFFICULTY_LABELS = {1: "易", 2: "中", 3: "难"}
BLANK = re.compile(r"_{2,}|（\s*）|\(\s*\)")
MAX_ROWS = 5000
MAX_BYTES = 10 * 1024 * 1024


@dataclass
class ImportResult:
    created: int = 0
    unchanged: int = 0
    skipped_rows: int = 0  # faulty rows left out when only the valid rows were imported
    errors: list[RowError] = field(default_factory=list)
    imported: bool = False


def _letters(value: str) -> list[str]:
    return [c for c in value.upper() if not c.isspace() and c not in ",，、;；/"]


def parse_row(
    cells: dict[str, str], row: int, courses: dict[str, Course]
) -> tuple[dict[str, Any], list[RowError]]:
    """One template row to question values, or the row's errors (each with its column and what to write)."""
    errors: list[RowError] = []

    def fail(column: str, message: str) -> None:
        errors.append(RowError(row, column, message))

    kind = KIND_NAMES.get(cells["题型"])
    if kind is None:
        fail("题型", _("Write the question type as 单选, 多选, 判断 or 填空."))
    stem = cells["题干"]
    if not stem:
        fail("题干", _("The question text is empty."))
    options = [cells[f"选项{letter}"] for letter in OPTION_LETTERS]
    while options and not options[-1]:
        options.pop()
    answer: list[Any] = []
    raw_answer = cells["答案"]
    if kind in (QuestionKind.SINGLE, QuestionKind.MULTIPLE):
        if len(options) < 2:
            fail("选项A", _("A choice question needs at least two options (选项A and 选项B)."))
        elif "" in options:
            fail(
                f"选项{OPTION_LETTERS[options.index('')]}",
                _("Options are filled from A without gaps: this one is empty but a later one is not."),
            )
        letters = _letters(raw_answer)
        if not letters:
            fail("答案", _("Write the right option letters, e.g. B or ACD."))
        elif any(letter not in OPTION_LETTERS[: len(options)] for letter in letters):
            fail(
                "答案",
                _("The answer %(answer)s names an option that the question does not have (A to %(last)s).")
                % {"answer": raw_answer, "last": OPTION_LETTERS[max(len(options), 1) - 1]},
            )
        elif len(set(letters)) != len(letters):
            fail("答案", _("The answer names an option twice."))
        elif kind == QuestionKind.SINGLE and len(letters) != 1:
            fail("答案", _("A single-choice question has exactly one right option; use 多选 for more."))
        elif kind == QuestionKind.MULTIPLE and len(letters) < 2:
            fail("答案", _("A multiple-choice question has at least two right options; use 单选 for one."))
        else:
            answer = sorted(OPTION_LETTERS.index(letter) for letter in letters)
    elif kind == QuestionKind.TRUE_FALSE:
        if any(options) and options != TRUE_FALSE_OPTIONS:
            fail("选项A", _("Leave the options of a true/false question empty."))
        options = list(TRUE_FALSE_OPTIONS)
        word = raw_answer.lower()
        if word in TRUE_WORDS:
            answer = [0]
        elif word in FALSE_WORDS:
            answer = [1]
        else:
            fail("答案", _("Write the answer of a true/false question as 正确 or 错误."))
    elif kind == QuestionKind.FILL:
        if options:
            fail("选项A", _("Leave the options of a fill-in question empty."))
        options = []
        blanks = len(BLANK.findall(stem))
        groups = [
            [alt.strip() for alt in part.split("|") if alt.strip()] for part in re.split(r"[;；]", raw_answer)
        ]
        groups = [g for g in groups if g]
        if blanks == 0:
            fail("题干", _("Mark each blank in the question text with ____ (four underscores)."))
        elif blanks > 10:
            fail("题干", _("A fill-in question has at most 10 blanks."))
        elif len(groups) != blanks:
            fail(
                "答案",
                _(
                    "The question has %(blanks)d blanks but %(answers)d answers: separate the blanks' answers with ;."
                )
                % {"blanks": blanks, "answers": len(groups)},
            )
        else:
            answer = groups
    difficulty = DIFFICULTY_NAMES.get(cells["难度"])
    if difficulty is None:
        fail("难度", _("Write the difficulty as 易, 中 or 难 (or leave it empty for 中)."))
    course = None
    if cells["课程代码"]:
        course = courses.get(cells["课程代码"].upper())
        if course is None:
            fail("课程代码", _("No course with this code belongs to the programme."))
    if len(cells["知识点"]) > 100:
        fail("知识点", _("The knowledge point is longer than 100 characters."))
    values = {
        "kind": kind,
        "stem": stem,
        "options": options,
        "answer": answer,
        "explanation": cells["解析"],
        "knowledge_point": cells["知识点"],
        "difficulty": difficulty or Difficulty.MEDIUM,
        "course": course,
    }
    return values, errors


TEXT_COLUMNS = ("题干", *[f"选项{letter}" for letter in OPTION_LETTERS], "答案")


def _read_rows(data: bytes) -> tuple[list[tuple[int, dict[str, str]]], list[RowError]]:
    """The template's rows as texts, and the cells Excel turned into something else (a date, a time)."""
    if len(data) > MAX_BYTES:
        raise DomainError("file_too_large", _("The file is larger than 10 MB."), field="file")
    out: list[tuple[int, dict[str, str]]] = []
    converted: list[RowError] = []
    # The guarded reader (core.safeimport) refuses a hostile or oversized file before anything is read here.
    rows = iter(workbook_rows(data))
    header = [cell_text(v) for v in next(rows, ())]
    missing = [name for name in HEADERS if name not in header]
    if missing:
        raise DomainError(
            "not_question_template",
            _(
                "This is not the question-bank template: the columns %(columns)s are missing. Download the "
                "template."
            )
            % {"columns": "、".join(missing)},
            field="file",
        )
    index = {name: header.index(name) for name in HEADERS}
    for number, values in enumerate(rows, start=2):
        cells = {}
        for name, i in index.items():
            value = values[i] if i < len(values) else None
            if name in TEXT_COLUMNS and isinstance(value, dt.date | dt.time):
                converted.append(
                    RowError(
                        number,
                        name,
                        _(
                            "Excel turned this cell into a date or time. Format the column as text and type "
                            "the value again."
                        ),
                    )
                )
            cells[name] = cell_text(value)
        if not any(cells.values()):
            continue
        out.append((number, cells))
        if len(out) > MAX_ROWS:
            raise DomainError(
                "too_many_rows", _("At most 5,000 questions per file: split the file."), field="file"
            )
    return out, converted


def questions_import(
    *, programme: Programme, data: bytes, valid_rows_only: bool = False, actor: Any = None
) -> ImportResult:
    """Import a bank file into a programme's bank (EXM-01). All or nothing unless valid_rows_only."""
    rows, converted = _read_rows(data)
    courses = {c.code.upper(): c for c in Course.objects.filter(programme_courses__programme=programme)}
    result = ImportResult()
    parsed: list[tuple[int, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    bad_cells = {e.row: [] for e in converted}
    for error in converted:
        bad_cells[error.row].append(error)
    for number, cells in rows:
        values, errors = parse_row(cells, number, courses)
        errors = bad_cells.get(number, []) + errors
        if not errors:
            values["fingerprint"] = fingerprint(values["kind"], values["stem"], values["options"])
            first = seen.get(values["fingerprint"])
            if first is not None:
                errors.append(
                    RowError(
                        number, "题干", _("The same question as row %(row)d of this file.") % {"row": first}
                    )
                )
            else:
                seen[values["fingerprint"]] = number
        result.errors.extend(errors)
        if not errors:
            parsed.append((number, values))
    if not rows:
        raise DomainError("empty_file", _("The file has no questions below the header row."), field="file")
    if result.errors and not valid_rows_only:
        return result
    existing = set(
        Question.objects.filter(programme=programme, fingerprint__in=seen).values_list(
            "fingerprint", flat=True
        )
    )
    with transaction.atomic():
        new = [
            Question(programme=programme, created_by=actor, **values)
            for _number, values in parsed
            if values["fingerprint"] not in existing
        ]
        Question.objects.bulk_create(new)
        result.created = len(new)
        result.unchanged = len(parsed) - len(new)
        result.skipped_rows = len({e.row for e in result.errors})
        result.imported = True
        audit_log(
            action="assessment.questions_import",
            obj=programme,
            actor=actor,
            detail={
                "created": result.created,
                "unchanged": result.unchanged,
                "skipped_rows": result.skipped_rows,
            },
        )
    return result


def _sheet_with_header(workbook: Workbook, title: str) -> Any:
    sheet = workbook.active
    sheet.title = title
    sheet.append(HEADERS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
    sheet.column_dimensions["B"].width = 60
    sheet.freeze_panes = "A2"
    return sheet


def question_row(question: Question) -> list[str]:
    options = question.options if question.kind in (QuestionKind.SINGLE, QuestionKind.MULTIPLE) else []
    if question.kind == QuestionKind.TRUE_FALSE:
        answer = TRUE_FALSE_OPTIONS[question.answer[0]]
    elif question.kind == QuestionKind.FILL:
        answer = ";".join("|".join(group) for group in question.answer)
    else:
        answer = "".join(OPTION_LETTERS[i] for i in question.answer)
    return [
        KIND_LABELS[question.kind],
        question.stem,
        *(options + [""] * (len(OPTION_LETTERS) - len(options))),
        answer,
        question.explanation,
        question.knowledge_point,
        DIFFICULTY_LABELS[question.difficulty],
        question.course.code if question.course_id else "",
    ]


def questions_export(*, programme: Programme) -> bytes:
    """The programme's active questions in the import template: exporting and importing gives the same bank."""
    workbook = Workbook()
    sheet = _sheet_with_header(workbook, "题库")
    for question in programme.questions.filter(is_active=True).select_related("course").order_by("pk"):
        sheet.append(question_row(question))
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # text, never a formula (the stem "=…" stays a stem)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


EXAMPLES = [
    [
        "单选",
        "施工现场进入作业区域必须正确佩戴的是____。",
        "安全帽",
        "耳机",
        "太阳镜",
        "",
        "",
        "",
        "A",
        "进入施工现场必须戴好安全帽，系好下颏带。",
        "个人防护",
        "易",
        "",
    ],
    [
        "多选",
        "下列属于“三违”的有（ ）。",
        "违章指挥",
        "违章作业",
        "违反劳动纪律",
        "按章操作",
        "",
        "",
        "ABC",
        "“三违”指违章指挥、违章作业、违反劳动纪律。",
        "安全管理",
        "中",
        "",
    ],
    [
        "判断",
        "特种作业人员未经专门的安全作业培训并取得相应资格，不得上岗作业。",
        "",
        "",
        "",
        "",
        "",
        "",
        "正确",
        "《安全生产法》第三十条。",
        "法律法规",
        "易",
        "",
    ],
    [
        "填空",
        "我国安全生产工作的方针是安全第一、____、综合治理。",
        "",
        "",
        "",
        "",
        "",
        "",
        "预防为主",
        "《安全生产法》第三条。",
        "法律法规",
        "易",
        "",
    ],
]
RULES = [
    "每行一道题；第一行是列名，请勿修改。",
    "题型：单选、多选、判断、填空。",
    "选项：选择题至少填写选项A、选项B，从A开始连续填写；判断题和填空题不填选项。",
    "答案：单选写一个字母（如 B）；多选写两个及以上字母（如 ACD）；判断写“正确”或“错误”；"
    "填空题的空在题干中写作 ____（四个下划线），各空答案用分号 ; 分隔，同一空的多个可接受答案用竖线 | 分隔。",
    "难度：易、中、难，不填为中。",
    "课程代码：可不填；填写时须为本培训项目中的课程代码。",
    "导入时逐行检查，任何一行有错误时默认整个文件不导入，并列出每个错误的行号、列名和原因；"
    "也可选择“只导入正确的行”。题库中已有的相同题目不会重复导入。",
]


def template_workbook() -> bytes:
    workbook = Workbook()
    sheet = _sheet_with_header(workbook, "题库")
    for row in EXAMPLES:
        sheet.append(row)
    rules = workbook.create_sheet("填写说明")
    for line in RULES:
        rules.append([line])
    rules.column_dimensions["A"].width = 120
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
