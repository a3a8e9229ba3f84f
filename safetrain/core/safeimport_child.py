"""The child process of safetrain.core.safeimport: reads one uploaded workbook under memory and CPU limits.

Run as a script (`python -I safeimport_child.py LIMITS_JSON`, the workbook on stdin); it imports nothing of Django
or of the platform, so a hostile file meets only openpyxl (with defusedxml) or, for a legacy .xls, xlrd, in a
process that may die. It answers
one JSON object on stdout: `{"ok": true, "rows": [...], "sheets": n}` or `{"ok": false, "error": code, ...}`.
Cell values keep their types: dates, times and durations are tagged objects (`{"$": "date", "v": "2024-05-01"}`).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import resource
import sys
import zipfile
from typing import Any

# Byte patterns that open an XML document type or entity declaration, in UTF-8 and in both UTF-16 orders: Excel
# never writes them, and an entity may expand a small file into gigabytes (billion laughs).
_DECLARATIONS = [
    text.encode(codec) for text in ("<!DOCTYPE", "<!ENTITY") for codec in ("utf-8", "utf-16-le", "utf-16-be")
]
_OVERLAP = max(len(p) for p in _DECLARATIONS)
_XML_SUFFIXES = (".xml", ".rels", ".vml")


class Refused(Exception):
    def __init__(self, error: str, **details: Any) -> None:
        super().__init__(error)
        self.error = error
        self.details = details


def limit_resources(memory_mb: int, cpu_seconds: int) -> None:
    """Before any byte of the file is read: a bounded address space (MemoryError past it) and CPU time (SIGXCPU)."""
    memory = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # it writes no file


def check_members(archive: zipfile.ZipFile, limits: dict[str, Any]) -> None:
    """The parts and sheets the archive holds, the sizes it declares (zipfile never inflates a member past its
    declared size: it stops there and fails the CRC check), and no XML declarations in any XML part, scanned in
    chunks before a parser sees it."""
    members = archive.infolist()
    if len(members) > limits["max_parts"]:
        raise Refused("too_many_parts")
    sheets = [
        m
        for m in members
        if m.filename.startswith(("xl/worksheets/", "xl/chartsheets/")) and m.filename.endswith(".xml")
    ]
    if len(sheets) > limits["max_sheets"]:
        raise Refused("too_many_sheets")
    total = packed = 0
    for info in members:
        total += info.file_size
        packed += info.compress_size
        if info.file_size > limits["max_unpacked_bytes"] or total > limits["max_unpacked_bytes"]:
            raise Refused("unpacked_too_large")
        if packed_too_tightly(info.file_size, info.compress_size, limits):
            raise Refused("compression_ratio")
    if packed_too_tightly(total, packed, limits):  # many parts, each just within the ratio
        raise Refused("compression_ratio")
    for info in members:
        if not info.filename.lower().endswith(_XML_SUFFIXES):
            continue
        tail = b""
        with archive.open(info) as part:
            while chunk := part.read(1 << 20):
                window = tail + chunk
                if any(p in window for p in _DECLARATIONS):
                    raise Refused("xml_entities")
                tail = window[-_OVERLAP:]


def packed_too_tightly(unpacked: int, packed: int, limits: dict[str, Any]) -> bool:
    return unpacked > limits["ratio_from_bytes"] and unpacked > limits["max_ratio"] * max(packed, 1)


def encode(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime):
        return {"$": "datetime", "v": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$": "date", "v": value.isoformat()}
    if isinstance(value, dt.time):
        return {"$": "time", "v": value.isoformat()}
    if isinstance(value, dt.timedelta):
        return {"$": "timedelta", "v": value.total_seconds()}
    return str(value)


# The first bytes of an OLE2 compound document: the legacy Excel 97-2003 workbook (.xls).
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def read_rows(data: bytes, limits: dict[str, Any]) -> dict[str, Any]:
    """The first sheet of a workbook, whichever its format: .xls (by its signature) or .xlsx."""
    if data.startswith(OLE2_MAGIC):
        return read_xls_rows(data, limits)
    return read_xlsx_rows(data, limits)


def read_xls_rows(data: bytes, limits: dict[str, Any]) -> dict[str, Any]:
    """A legacy .xls workbook through xlrd (a binary format: no XML, so no entity declarations to refuse), under the
    same limits: sheets, rows, columns and the text handed back. `on_demand` parses only the first sheet."""
    import xlrd

    try:
        book = xlrd.open_workbook(file_contents=data, on_demand=True, formatting_info=False)
    except MemoryError:
        raise
    except Exception as exc:  # a damaged or foreign file, however xlrd fails on it
        raise Refused("unreadable") from exc
    try:
        sheets = book.nsheets
        if sheets > limits["max_sheets"]:
            raise Refused("too_many_sheets")
        if sheets == 0:
            raise Refused("unreadable")
        sheet = book.sheet_by_index(0)
        rows: list[list[Any]] = []
        empty_run = 0
        text = 0
        for number in range(sheet.nrows):
            cells = [
                xls_value(cell, book.datemode)
                for cell in sheet.row_slice(number, 0, min(sheet.ncols, limits["max_columns"]))
            ]
            while cells and cells[-1] is None:
                cells.pop()
            if not cells:
                empty_run += 1
                continue
            if number + 1 > limits["max_rows"]:
                raise Refused("too_many_rows")
            encoded = [encode(v) for v in cells]
            text += sum(len(v) if isinstance(v, str) else 8 for v in encoded)
            if text > limits["max_text_chars"]:
                raise Refused("unpacked_too_large")
            rows.extend([] for _ in range(empty_run))
            empty_run = 0
            rows.append(encoded)
    except (MemoryError, Refused):
        raise
    except Exception as exc:
        raise Refused("unreadable") from exc
    finally:
        book.release_resources()
    return {"ok": True, "rows": rows, "sheets": sheets}


def xls_value(cell: Any, datemode: int) -> Any:
    """A cell as openpyxl would give it: text, a number, a boolean, a date or time; empty and error cells None."""
    import xlrd

    if cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK, xlrd.XL_CELL_ERROR):
        return None
    if cell.ctype == xlrd.XL_CELL_TEXT:
        return cell.value if cell.value.strip() else None
    if cell.ctype == xlrd.XL_CELL_BOOLEAN:
        return bool(cell.value)
    if cell.ctype == xlrd.XL_CELL_DATE:
        try:
            value = xlrd.xldate.xldate_as_datetime(cell.value, datemode)
        except (ValueError, OverflowError, xlrd.xldate.XLDateError):
            return cell.value
        if cell.value < 1:
            return value.time()
        return value
    return cell.value


def read_xlsx_rows(data: bytes, limits: dict[str, Any]) -> dict[str, Any]:
    # openpyxl reads its XML with defusedxml when it is installed and OPENPYXL_DEFUSEDXML is not "False"; the
    # parent sets it, and a parser without it is refused rather than used. numpy (optional for openpyxl) is kept
    # out: it costs a tenth of a second and threads, and a read workbook never holds numpy values.
    sys.modules["numpy"] = None  # type: ignore[assignment]
    import openpyxl

    if not openpyxl.DEFUSEDXML:
        raise Refused("unsafe_parser")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise Refused("unreadable") from exc
    with archive:
        check_members(archive, limits)
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except MemoryError:
        raise
    except Exception as exc:  # a damaged or foreign file, however openpyxl fails on it
        raise Refused("unreadable") from exc
    try:
        sheets = len(workbook.sheetnames)
        if sheets > limits["max_sheets"]:
            raise Refused("too_many_sheets")
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None or not hasattr(sheet, "iter_rows"):
            raise Refused("unreadable")
        sheet.reset_dimensions()  # some programs write a wrong size; read what is there
        rows: list[list[Any]] = []
        empty_run = 0  # empty rows are kept only when a filled row follows them
        text = 0
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = list(values[: limits["max_columns"]])
            while cells and cells[-1] is None:
                cells.pop()
            if not cells:
                empty_run += 1
                continue
            if number > limits["max_rows"]:
                raise Refused("too_many_rows")
            encoded = [encode(v) for v in cells]
            text += sum(len(v) if isinstance(v, str) else 8 for v in encoded)
            if text > limits["max_text_chars"]:
                raise Refused("unpacked_too_large")
            rows.extend([] for _ in range(empty_run))
            empty_run = 0
            rows.append(encoded)
    except MemoryError:
        raise
    except Refused:
        raise
    except Exception as exc:
        raise Refused("unreadable") from exc
    finally:
        workbook.close()
    return {"ok": True, "rows": rows, "sheets": sheets}


def main() -> int:
    limits = json.loads(sys.argv[1])
    limit_resources(limits["memory_mb"], limits["cpu_seconds"])
    data = sys.stdin.buffer.read(limits["max_upload_bytes"] + 1)
    try:
        if len(data) > limits["max_upload_bytes"]:
            raise Refused("file_too_large")
        output = json.dumps(read_rows(data, limits), ensure_ascii=False)
    except Refused as refused:
        output = json.dumps({"ok": False, "error": refused.error, **refused.details})
    except MemoryError:
        output = ""  # answered below, once the exception has released what the reading held
    sys.stdout.write(output or json.dumps({"ok": False, "error": "memory"}))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
