"""The one guarded reader of uploaded workbooks (GB/T 22239 level 3: resource control, intrusion prevention).

Every spreadsheet the platform reads from a user (rosters, enrolment forms, question banks) goes through
`workbook_rows`. A hostile file (a zip bomb, an XML entity bomb, a sheet of a million rows) is refused with a
Chinese message that says why and what to do, before anything is imported, and it costs the web worker neither
memory nor time:

- here: the upload's size;
- in a child process (safeimport_child, a fresh interpreter with none of the platform loaded) whose address space
  (RLIMIT_AS) and CPU time are limited before it reads a byte: the size each zip member unpacks to and the total,
  each member's compression ratio, the number of parts and worksheets, no XML document type or entity declaration
  in any XML part, then openpyxl with defusedxml on the first worksheet, its rows and its text. A legacy .xls
  (Excel 97-2003, still the format of many government templates) is told by its signature and read by xlrd in the
  same child under the same limits. It returns plain cell values as JSON; a child that runs out of memory or time
  is a refusal, and its memory goes with it. Callers never ask which format a file is.

The limits are settings (IMPORT_*, docs/configuration.md).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import defusedxml  # noqa: F401 - a dependency of its own: openpyxl reads XML through it only when installed
from django.conf import settings
from django.utils.translation import gettext as _

from safetrain.core.errors import DomainError
from safetrain.core.excel import unreadable_workbook

logger = logging.getLogger(__name__)
CHILD = Path(__file__).with_name("safeimport_child.py")
MB = 1024 * 1024
# A member smaller than this is not judged by its ratio: small XML parts (styles, an empty sheet) pack tightly.
RATIO_FROM_BYTES = MB


def limits() -> dict[str, Any]:
    return {
        "max_upload_bytes": settings.IMPORT_MAX_UPLOAD_MB * MB,
        "max_unpacked_bytes": settings.IMPORT_MAX_UNPACKED_MB * MB,
        "max_ratio": settings.IMPORT_MAX_RATIO,
        "ratio_from_bytes": RATIO_FROM_BYTES,
        "max_parts": settings.IMPORT_MAX_PARTS,
        "max_sheets": settings.IMPORT_MAX_SHEETS,
        "max_rows": settings.IMPORT_MAX_ROWS,
        "max_columns": settings.IMPORT_MAX_COLUMNS,
        # The cell text handed back, and so held by the web worker: well under what the child may unpack.
        "max_text_chars": settings.IMPORT_MAX_UNPACKED_MB * MB // 4,
        "memory_mb": settings.IMPORT_MEMORY_MB,
        "cpu_seconds": settings.IMPORT_CPU_SECONDS,
    }


def refusal(error: str) -> DomainError:
    """The Chinese refusal for a child's error code: why, and what to do."""
    if error == "unreadable":
        return unreadable_workbook()
    if error == "file_too_large":
        message = _("The file is larger than %(mb)d MB: split it and import the parts.") % {
            "mb": settings.IMPORT_MAX_UPLOAD_MB
        }
    elif error == "unpacked_too_large":
        message = _(
            "The file is too large once unpacked (more than %(mb)d MB): delete the sheets you do not need or split "
            "the file, then import again."
        ) % {"mb": settings.IMPORT_MAX_UNPACKED_MB}
    elif error == "compression_ratio":
        message = _(
            "The file is packed unusually tightly (a part unpacks to more than %(ratio)d times its size): it may be "
            "damaged or made to overload the server. Save it again in Excel as .xlsx, or split it, then import "
            "again."
        ) % {"ratio": settings.IMPORT_MAX_RATIO}
    elif error == "too_many_parts":
        message = _(
            "The file is made of more than %(parts)d parts, which a workbook never needs: save it again in Excel "
            "as .xlsx, then import again."
        ) % {"parts": settings.IMPORT_MAX_PARTS}
    elif error == "too_many_sheets":
        message = _(
            "The workbook has more than %(sheets)d sheets: delete the sheets you do not need, then import again."
        ) % {"sheets": settings.IMPORT_MAX_SHEETS}
    elif error == "too_many_rows":
        message = _("The sheet is longer than %(rows)d rows: at most %(rows)d rows per file, split it.") % {
            "rows": settings.IMPORT_MAX_ROWS
        }
    elif error == "xml_entities":
        message = _(
            "The file contains XML entity declarations, which Excel never writes, and was refused: save it again "
            "in Excel as .xlsx, then import again."
        )
    else:  # "memory", "time": the child ran out of what it may use
        message = _(
            "Reading this file needs more memory or time than allowed: delete the sheets, rows and formatting you "
            "do not need, or split the file, then import again."
        )
    return DomainError(f"file_{error}" if not error.startswith("file_") else error, message, field="file")


def workbook_rows(data: bytes) -> list[tuple[Any, ...]]:
    """The first worksheet's cell values, row by row (index 0 is Excel's row 1; empty rows inside the table are
    empty tuples, empty rows at its end are left out; trailing empty cells are left out).

    Raises DomainError (field "file") for a file that is not a readable .xlsx or .xls or breaks a limit."""
    bounds = limits()
    if len(data) > bounds["max_upload_bytes"]:
        raise refusal("file_too_large")
    if not data:
        raise unreadable_workbook()
    answer = _run_child(data, bounds)
    if not answer.get("ok"):
        error = str(answer.get("error", "unreadable"))
        if error == "unsafe_parser":
            raise RuntimeError("openpyxl would read XML without defusedxml (OPENPYXL_DEFUSEDXML): refused")
        raise refusal(error)
    return [tuple(row) for row in answer["rows"]]


def _run_child(data: bytes, bounds: dict[str, Any]) -> dict[str, Any]:
    environment = {
        "PATH": os.defpath,
        "LANG": "C.UTF-8",
        # openpyxl's switches: XML through defusedxml, and one parser (the standard library's) for every part.
        "OPENPYXL_DEFUSEDXML": "True",
        "OPENPYXL_LXML": "False",
    }
    process = subprocess.Popen(  # noqa: S603 - our own script, run by our own interpreter
        [sys.executable, "-I", str(CHILD), json.dumps(bounds)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=environment,
        close_fds=True,
    )
    # The CPU limit stops a busy child; this stops one that waits (and a machine too busy to give it the CPU).
    timer = threading.Timer(bounds["cpu_seconds"] * 3 + 10, process.kill)
    timer.start()
    stdin, stdout = process.stdin, process.stdout
    if stdin is None or stdout is None:  # pragma: no cover - both are pipes
        raise RuntimeError("the workbook reader has no pipes")
    try:
        try:
            stdin.write(data)
            stdin.close()
        except BrokenPipeError:
            pass  # the child ended early; its answer or exit status says why
        # What the child says is bounded by its text limit; a child that says more is not believed.
        most = bounds["max_text_chars"] * 4 + MB
        output = stdout.read(most + 1)
        if len(output) > most:
            process.kill()
            output = b""
        stdout.close()
        status = process.wait()
    finally:
        timer.cancel()
    if output:
        try:
            return json.loads(output, object_hook=_typed)
        except ValueError:
            pass
    # No answer: killed for CPU time (SIGXCPU), by the timer, or by the kernel for memory.
    logger.warning("workbook reader ended without an answer (exit status %s)", status)
    return {"ok": False, "error": "time" if status in (-9, -24) else "memory"}


def _typed(value: dict[str, Any]) -> Any:
    kind = value.get("$")
    if kind == "datetime":
        return dt.datetime.fromisoformat(value["v"])
    if kind == "date":
        return dt.date.fromisoformat(value["v"])
    if kind == "time":
        return dt.time.fromisoformat(value["v"])
    if kind == "timedelta":
        return dt.timedelta(seconds=value["v"])
    return value
