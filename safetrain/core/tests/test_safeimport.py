"""OPS-06 (GB/T 22239 level 3, resource control): every uploaded workbook is read by the one guarded reader
(core.safeimport). A zip bomb, an XML entity bomb, a sheet too long or a file that needs too much memory is refused
in Chinese through the real import pages (roster, question bank), nothing is imported, and the web process's memory
does not grow: the file is read in a child process with limits of its own."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from openpyxl import Workbook

from conftest import new_id_number, web_client_for
from safetrain.accounts.models import User
from safetrain.assessment.bank import template_workbook
from safetrain.assessment.models import Question
from safetrain.catalog.services import chapter_add, course_create, course_publish, lesson_add
from safetrain.catalog.tests.factories import published_programme
from safetrain.core import safeimport
from safetrain.core.errors import DomainError
from safetrain.enterprise.models import Personnel, RosterImport
from safetrain.learning.tests.conftest import video_of
from safetrain.records.models import AuditEntry

MB = 1024 * 1024
SHEET_OPEN = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
SHEET_CLOSE = b"</sheetData></worksheet>"


def plain_roster(*people: list[str]) -> bytes:
    book = Workbook()
    book.active.append(["姓名", "身份证号码", "手机号码", "工种", "班组"])
    for person in people:
        book.active.append(person)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def with_part(base: bytes, name: str, chunks: Iterable[bytes]) -> bytes:
    """`base` (a real workbook) with the part `name` replaced by `chunks`, packed as tightly as zlib can."""
    source = zipfile.ZipFile(io.BytesIO(base))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as target:
        for item in source.infolist():
            if item.filename != name:
                target.writestr(item.filename, source.read(item.filename))
        with target.open(name, "w", force_zip64=True) as part:
            for chunk in chunks:
                part.write(chunk)
    return out.getvalue()


def zip_bomb(base: bytes, unpacked_mb: int = 200) -> bytes:
    """A valid workbook whose first sheet is `unpacked_mb` MB of the same row: about 3 KB packed per MB."""
    row = '<row><c t="inlineStr"><is><t>安全生产</t></is></c></row>'.encode()
    chunk = row * (MB // len(row))

    def parts() -> Iterator[bytes]:
        yield SHEET_OPEN
        for _ in range(unpacked_mb):
            yield chunk
        yield SHEET_CLOSE

    return with_part(base, "xl/worksheets/sheet1.xml", parts())


def billion_laughs(base: bytes) -> bytes:
    """The first sheet's one cell is an entity nested ten levels deep: a billion copies of 安全 once expanded."""
    entities = ['<!ENTITY e0 "安全">'] + [f'<!ENTITY e{i} "{f"&e{i - 1};" * 10}">' for i in range(1, 10)]
    sheet = (
        f'<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE worksheet [{"".join(entities)}]>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>&e9;</t></is></c></row></sheetData></worksheet>'
    )
    return with_part(base, "xl/worksheets/sheet1.xml", [sheet.encode()])


def memory_hungry(base: bytes, elements: int) -> bytes:
    """Within every size and ratio limit (about 6:1), but its document properties hold `elements` elements, which
    an XML parser holds in memory at about 400 bytes each."""
    return with_part(
        base,
        "docProps/core.xml",
        [
            b'<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties">',
            b"".join(b'<x n="%d"/>' % i for i in range(elements)),
            b"</cp:coreProperties>",
        ],
    )


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    roster, bank = plain_roster(["周杰", "110101199003070011", "", "", ""]), template_workbook()
    return {"roster": zip_bomb(roster), "bank": zip_bomb(bank)}


@pytest.fixture
def programme(db):
    course = course_create(code="SEC-BANK", title="安全生产法律法规")
    lesson_add(chapter=chapter_add(course=course, title="章"), title="节", video=video_of(60))
    course_publish(course=course)
    return published_programme("sec-bank", [course], profile="tianjin_ce")


def roster_upload(world, data: bytes):
    client = web_client_for(world.admin_nanshan)
    return client.post(
        "/enterprise/people/import/",
        {"unit": world.ent_nanshan.pk, "file": SimpleUploadedFile("名单.xlsx", data)},
    )


def bank_upload(world, programme, data: bytes):
    client = web_client_for(world.operator)
    return client.post(
        "/assessment/questions/import/",
        {"programme": programme.code, "file": SimpleUploadedFile("题库.xlsx", data)},
    )


def nothing_imported(users_before: int) -> None:
    assert User.objects.count() == users_before
    assert not Personnel.objects.exists()
    assert not RosterImport.objects.exists()
    assert not Question.objects.exists()
    assert not AuditEntry.objects.filter(
        action__in=["enterprise.roster_import", "assessment.questions_import"]
    ).exists()


def warm_up(upload, *args) -> None:
    """A first refused upload, so that what a process loads once (views, templates, translations) is not counted."""
    book = Workbook()
    book.active.append(["不是名单"])
    out = io.BytesIO()
    book.save(out)
    assert upload(*args, out.getvalue()).status_code == 400


@contextmanager
def rss_growth() -> Iterator[dict[str, int]]:
    """How far this process's resident memory rose above where it started, sampled every few milliseconds."""
    page = os.sysconf("SC_PAGE_SIZE")

    def rss() -> int:
        return int(Path("/proc/self/statm").read_text().split()[1]) * page

    start, peak, stop = rss(), [0], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss())
            stop.wait(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    measured: dict[str, int] = {}
    try:
        yield measured
    finally:
        stop.set()
        sampler.join()
        measured["bytes"] = max(peak[0], rss()) - start


def test_ops_06_a_zip_bomb_roster_is_refused_in_chinese_on_the_import_page_and_imports_nothing(world, bombs):
    users = User.objects.count()
    assert len(bombs["roster"]) < MB  # it fits any upload limit: 200 MB packed into well under 1 MB
    warm_up(roster_upload, world)
    with rss_growth() as growth:
        response = roster_upload(world, bombs["roster"])
    assert response.status_code == 400
    page = response.content.decode()
    assert "文件解压后过大（超过 100 MB），请删除多余的工作表或拆分后再导入" in page
    assert growth["bytes"] < 50 * MB
    nothing_imported(users)


def test_ops_06_a_zip_bomb_question_bank_is_refused_in_chinese_on_the_bank_page(world, programme, bombs):
    users = User.objects.count()
    warm_up(bank_upload, world, programme)
    with rss_growth() as growth:
        response = bank_upload(world, programme, bombs["bank"])
    assert response.status_code == 400
    assert "文件解压后过大（超过 100 MB），请删除多余的工作表或拆分后再导入" in response.content.decode()
    assert growth["bytes"] < 50 * MB
    nothing_imported(users)


def test_ops_06_an_xml_entity_bomb_is_refused_on_both_import_pages(world, programme):
    users = User.objects.count()
    roster = roster_upload(world, billion_laughs(plain_roster(["周杰", new_id_number(), "", "", ""])))
    bank = bank_upload(world, programme, billion_laughs(template_workbook()))
    for response in (roster, bank):
        assert response.status_code == 400
        assert "XML 实体声明" in response.content.decode()
    nothing_imported(users)


def test_ops_06_a_file_within_the_size_limits_that_needs_too_much_memory_is_refused_in_chinese(
    world, settings
):
    """The memory cap is enforced in the child: a file that packs only 6:1 and unpacks to 12 MB still needs
    about 200 MB to parse. With the cap at 120 MB it is refused, and the web process does not grow."""
    settings.IMPORT_MEMORY_MB = 120
    users = User.objects.count()
    data = memory_hungry(plain_roster(["周杰", new_id_number(), "", "", ""]), 500_000)
    assert len(data) < 5 * MB
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        part = archive.getinfo("docProps/core.xml")
    assert part.file_size < settings.IMPORT_MAX_UNPACKED_MB * MB
    assert part.file_size < settings.IMPORT_MAX_RATIO * part.compress_size
    warm_up(roster_upload, world)
    with rss_growth() as growth:
        response = roster_upload(world, data)
    assert response.status_code == 400
    assert "读取该文件所需的内存或时间超出限制" in response.content.decode()
    assert growth["bytes"] < 50 * MB
    nothing_imported(users)


def test_ops_06_a_part_packed_too_tightly_is_refused_even_when_small_enough(settings):
    data = zip_bomb(plain_roster(), unpacked_mb=60)
    with pytest.raises(DomainError) as refused:
        safeimport.workbook_rows(data)
    assert refused.value.code == "file_compression_ratio"
    assert "压缩比异常（超过 100 倍）" in refused.value.message


def test_ops_06_too_many_rows_or_sheets_and_too_large_an_upload_are_refused_with_the_limit(settings):
    settings.IMPORT_MAX_ROWS = 30
    with pytest.raises(DomainError) as rows:
        safeimport.workbook_rows(plain_roster(*[["周杰", str(i), "", "", ""] for i in range(30)]))
    assert rows.value.code == "file_too_many_rows"
    assert "最多 30 行" in rows.value.message
    assert len(safeimport.workbook_rows(plain_roster(*[["周杰", str(i)] for i in range(29)]))) == 30

    settings.IMPORT_MAX_SHEETS = 2
    book = Workbook()
    for name in ("二", "三"):
        book.create_sheet(name)
    out = io.BytesIO()
    book.save(out)
    with pytest.raises(DomainError) as sheets:
        safeimport.workbook_rows(out.getvalue())
    assert "工作表超过 2 个" in sheets.value.message

    settings.IMPORT_MAX_UPLOAD_MB = 1
    with pytest.raises(DomainError) as large:
        safeimport.workbook_rows(b"PK" + b"\0" * MB)
    assert "文件超过 1 MB" in large.value.message


def test_ops_06_cell_values_come_back_with_their_types_and_empty_rows_in_place():
    import datetime as dt

    book = Workbook()
    book.active.append(["题干", dt.date(2024, 5, 1), dt.time(8, 30), 1.5, 12, True, None, "末"])
    book.active.append([])
    book.active.append(["第三行"])
    book.active.append([None])
    out = io.BytesIO()
    book.save(out)
    rows = safeimport.workbook_rows(out.getvalue())
    assert rows == [
        # Excel has no time zones: a date cell comes back as a naive datetime, as openpyxl gives it.
        ("题干", dt.datetime(2024, 5, 1), dt.time(8, 30), 1.5, 12, True, None, "末"),  # noqa: DTZ001
        (),
        ("第三行",),
    ]


def test_ops_06_the_reader_refuses_to_parse_without_defusedxml():
    """openpyxl reads XML through defusedxml only when it is installed and OPENPYXL_DEFUSEDXML is not "False":
    the child checks that it does, and refuses to read otherwise."""
    bounds = {**safeimport.limits(), "memory_mb": 512}
    result = subprocess.run(
        [sys.executable, "-I", str(safeimport.CHILD), json.dumps(bounds)],
        input=plain_roster(),
        capture_output=True,
        env={"OPENPYXL_DEFUSEDXML": "False"},
        check=True,
        timeout=60,
    )
    assert json.loads(result.stdout) == {"ok": False, "error": "unsafe_parser"}
