"""Excel roster import (ENT-02, ACC-03): the Guangzhou enrolment form (附件1: 单位名称, 联系人, 联系电话, 邮寄证书信息,
then 序号 姓名 身份证号码 手机号码 证书类型 培训类别) and a plain people template (姓名 身份证号码 手机号码 工种 班组).

Every faulty row is reported with its row number, column and reason; nothing is imported while any row is faulty,
unless the admin chooses to import the valid rows (the result says how many were left out). Importing the same
file again changes nothing. New people get accounts with the initial password (last six characters of the ID
number, changed at first sign-in).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from openpyxl import Workbook
from openpyxl.styles import Font

from safetrain.accounts.identity import IdType, initial_password_for, parse_identity
from safetrain.accounts.models import Membership, Role, User, id_index_of, phone_index_of
from safetrain.accounts.services import membership_grant, normalise_phone, user_create
from safetrain.catalog.models import JobType
from safetrain.core.errors import DomainError, PermissionDenied
from safetrain.core.excel import RowError, cell_text
from safetrain.core.resend import jobs_resend
from safetrain.core.safeimport import workbook_rows
from safetrain.enterprise.models import JobState, Personnel, RosterImport, RosterJob
from safetrain.enterprise.selectors import on_site_records
from safetrain.learning.services import learners_without_phones
from safetrain.orgs.models import Organisation, OrganisationKind
from safetrain.records.services import audit_log
from safetrain.regulator.counters import touch_memberships as statistics_touch

MAX_ROWS = 3000

logger = logging.getLogger(__name__)
CERTIFICATE_TYPES = ("主要负责人", "安全生产管理人员")
TRAINING_KINDS = ("初始培训", "再培训")
GUANGZHOU_COLUMNS = ("序号", "姓名", "身份证号码", "手机号码", "证书类型", "培训类别")
PLAIN_COLUMNS = ("姓名", "身份证号码", "手机号码", "工种", "班组")
HEADER_LABELS = {
    "单位名称": "unit",
    "联系人": "contact",
    "联系电话": "contact_phone",
    "收件人": "recipient",
    "收件人电话": "recipient_phone",
    "地址": "address",
    "开票单位全称": "invoice_title",
    "纳税人识别号(统一信用代码)": "taxpayer_id",
    "纳税人识别号": "taxpayer_id",
    "电子邮箱(用于发送电子发票)": "invoice_email",
}


@dataclass
class Row:
    number: int
    cells: dict[str, str]
    raw_id: Any = None


@dataclass
class Roster:
    template: str  # "guangzhou" or "plain"
    header: dict[str, str]
    rows: list[Row]


@dataclass(frozen=True)
class RosterError(RowError):
    """A faulty row of a roster, named as the admin finds it: the spreadsheet row, the trainee's 序号 and name."""

    serial: str = ""
    name: str = ""

    @property
    def where(self) -> str:
        return row_label(self.row, self.serial, self.name)


def row_label(row: int, serial: str = "", name: str = "") -> str:
    """“第 7 行（序号 5，张三）”: the row as Excel numbers it, then what the admin reads in it."""
    if serial and name:
        return _("Row %(row)d (No. %(serial)s, %(name)s)") % {"row": row, "serial": serial, "name": name}
    if serial:
        return _("Row %(row)d (No. %(serial)s)") % {"row": row, "serial": serial}
    if name:
        return _("Row %(row)d (%(name)s)") % {"row": row, "name": name}
    return _("Row %(row)d") % {"row": row}


@dataclass
class RosterResult:
    created: int = 0
    linked: int = 0
    unchanged: int = 0
    left_out: int = 0
    errors: list[RosterError] = field(default_factory=list)
    imported: bool = False
    record: RosterImport | None = None
    phones_ignored: int = 0  # rows whose phone was not kept: the person's region profile keeps none (GD#14)

    @property
    def total(self) -> int:
        """Everyone the import put on the unit's staff, whatever their account."""
        return self.created + self.linked + self.unchanged

    @property
    def summary(self) -> str:
        """The outcome in one sentence, naming only the groups that hold someone (“已导入 5 人：新开账号 5 人。”)."""
        if not self.total:
            return _("Nobody was imported.")
        parts = []
        if self.created:
            parts.append(_("%(n)d with a new account") % {"n": self.created})
        if self.linked:
            parts.append(
                _("%(n)d with an existing account, added to the unit or updated") % {"n": self.linked}
            )
        if self.unchanged:
            parts.append(_("%(n)d already on the staff, unchanged") % {"n": self.unchanged})
        return _("Imported %(total)d people: %(parts)s.") % {
            "total": self.total,
            "parts": pgettext("list separator", ", ").join(parts),
        }


def result_from_job(job: RosterJob) -> RosterResult | None:
    """A background import's stored outcome, as the page shows an import done at once."""
    data = job.result or {}
    if not data:
        return None
    return RosterResult(
        created=data.get("created", 0),
        linked=data.get("linked", 0),
        unchanged=data.get("unchanged", 0),
        left_out=data.get("left_out", 0),
        imported=bool(data.get("imported")),
        phones_ignored=data.get("phones_ignored", 0),
        errors=[
            RosterError(e["row"], e["column"], e["message"], e.get("serial", ""), e.get("name", ""))
            for e in data.get("errors", [])
        ],
    )


# Reading ------------------------------------------------------------------------------------------------------


def _label(text: str) -> str:
    return text.replace("（", "(").replace("）", ")").replace(" ", "").rstrip("：:")


LABELS = {_label(k): v for k, v in HEADER_LABELS.items()}


def _header_values(rows: list[tuple[Any, ...]]) -> dict[str, str]:
    """The form's header and invoice blocks: a label cell ("单位名称：") and its value in the next cell, or both in
    one cell ("单位名称：南山建设公司"). A label followed directly by another label has no value."""
    found: dict[str, str] = {}
    for values in rows:
        cells = [cell_text(v) for v in values]
        for i, cell in enumerate(cells):
            label, _sep, rest = cell.replace(":", "：").partition("：")
            key = LABELS.get(_label(label))
            if key is None or key in found:
                continue
            value = rest.strip()
            if not value:
                following = next((c for c in cells[i + 1 :] if c), "")
                value = (
                    "" if LABELS.get(_label(following.replace(":", "：").partition("：")[0])) else following
                )
            found[key] = value
    return found


def read_roster(data: bytes) -> Roster:
    """Find the people table (the row holding 姓名 and 身份证号码) in the first sheet, and the form's header above.
    The file is read by the guarded reader (core.safeimport), which refuses a hostile or oversized one."""
    all_rows = workbook_rows(data)
    header_at = next(
        (
            i
            for i, values in enumerate(all_rows[:40])
            if {"姓名", "身份证号码"} <= {cell_text(v) for v in values}
        ),
        None,
    )
    if header_at is None:
        raise DomainError(
            "not_roster",
            _(
                "No people table was found: the sheet needs a heading row with 姓名 and 身份证号码. Download a "
                "template and copy your list into it."
            ),
            field="file",
        )
    heading = [cell_text(v) for v in all_rows[header_at]]
    template = "guangzhou" if {"证书类型", "培训类别"} <= set(heading) else "plain"
    columns = GUANGZHOU_COLUMNS if template == "guangzhou" else PLAIN_COLUMNS
    index = {name: heading.index(name) for name in columns if name in heading}
    rows = []
    footer_at = len(all_rows)
    for offset, values in enumerate(all_rows[header_at + 1 :], start=header_at + 2):
        cells = {name: cell_text(values[i]) if i < len(values) else "" for name, i in index.items()}
        person = {k: v for k, v in cells.items() if k != "序号"}
        if not any(person.values()):
            continue
        first = next((cell_text(v) for v in values if cell_text(v)), "")
        if template == "guangzhou" and first.startswith(("开票单位", "注")):
            footer_at = offset - 1  # the invoice block and the notes below the table
            break
        raw_id = values[index["身份证号码"]] if index["身份证号码"] < len(values) else None
        rows.append(Row(offset, cells, raw_id))
        if len(rows) > MAX_ROWS:
            raise DomainError(
                "too_many_rows", _("At most 3,000 people per file: split the file."), field="file"
            )
    header = _header_values(all_rows[:header_at] + all_rows[footer_at:]) if template == "guangzhou" else {}
    return Roster(template, header, rows)


# Checking -----------------------------------------------------------------------------------------------------


@dataclass
class Checked:
    row: Row
    name: str
    id_number: str
    phone: str
    job_type: JobType | None
    team: Organisation | None
    certificate_type: str
    training_kind: str
    existing: User | None
    phone_ignored: bool = False


CJK_SPACE = re.compile(r"(?<=[\u3400-\u9fff·])\s+(?=[\u3400-\u9fff·])")


def clean_name(text: str) -> str:
    """Spaces offices put between the characters of a Chinese name ("张  伟") go; a foreign name keeps single ones."""
    return CJK_SPACE.sub("", " ".join((text or "").split()))


@dataclass
class Known:
    """What the database already holds for a roster's ID and phone numbers, read in three queries for the file."""

    users: dict[str, User]  # by ID-number index
    elsewhere: dict[int, Membership]  # a user's active membership outside the unit
    phones: dict[str, int]  # phone indexes already in use, and whose
    no_phone: set[str] = field(default_factory=set)  # ID-number indexes of people whose phones are not kept


def _id_index(row: Row) -> str:
    try:
        return id_index_of(parse_identity(IdType.RESIDENT_ID, row.cells.get("身份证号码", "")).number)
    except DomainError:
        return ""


def _known(roster: Roster, unit_orgs: set[int]) -> Known:
    indexes, phones = set(), set()
    for row in roster.rows:
        try:
            indexes.add(
                id_index_of(parse_identity(IdType.RESIDENT_ID, row.cells.get("身份证号码", "")).number)
            )
        except DomainError:
            pass
        try:
            if phone := normalise_phone(row.cells.get("手机号码", "")):
                phones.add(phone_index_of(phone))
        except DomainError:
            pass
    users = {u.id_index: u for u in User.objects.filter(id_index__in=indexes)}
    elsewhere: dict[int, Membership] = {}
    for membership in (
        Membership.objects.filter(user__in=users.values(), is_active=True)
        .exclude(organisation_id__in=unit_orgs)
        .select_related("organisation")
        .order_by("pk")
    ):
        elsewhere.setdefault(membership.user_id, membership)
    taken = dict(User.objects.filter(phone_index__in=phones).values_list("phone_index", "pk"))
    # POL-PHONE: people already training under a profile that keeps no phones (GD#14).
    no_phone_ids = learners_without_phones([u.pk for u in users.values()])
    no_phone = {u.id_index for u in users.values() if u.pk in no_phone_ids}
    return Known(users, elsewhere, taken, no_phone)


def check_person(
    row: Row,
    template: str,
    seen_ids: dict[str, int],
    seen_phones: dict[str, int],
    fault: Callable[[str, str], None],
) -> tuple[str, str, str, str, str]:
    """The person columns every roster and application file shares: the name, the ID number (valid, not stored as a
    number, once per file), the phone (valid, once per file) and, on the Guangzhou form, the certificate type and
    the training kind. Faults go to `fault(column, message)`; returns (name, id_number, phone, certificate_type,
    training_kind), empty where faulty."""
    c = row.cells
    name = clean_name(c.get("姓名", ""))
    if not name:
        fault("姓名", _("The name is missing."))
    elif len(name) > 60:
        fault("姓名", _("The name is too long. Please check it."))
    id_number = ""
    if isinstance(row.raw_id, int | float) and not isinstance(row.raw_id, bool):
        fault(
            "身份证号码",
            _(
                "Excel stored this ID number as a number and its last digits are lost. Format the column as "
                "text and type the number again."
            ),
        )
    else:
        try:
            id_number = parse_identity(IdType.RESIDENT_ID, c.get("身份证号码", "")).number
        except DomainError as exc:
            fault("身份证号码", exc.message)
    if id_number:
        if id_number in seen_ids:
            fault(
                "身份证号码",
                _("The same ID number is already in row %(row)d of this file.")
                % {"row": seen_ids[id_number]},
            )
        else:
            seen_ids[id_number] = row.number
    phone = ""
    try:
        phone = normalise_phone(c.get("手机号码", ""))
    except DomainError as exc:
        fault("手机号码", exc.message)
    if phone:
        if phone in seen_phones:
            fault(
                "手机号码",
                _("One person, one phone number: row %(row)d has the same number.")
                % {"row": seen_phones[phone]},
            )
        else:
            seen_phones[phone] = row.number
    certificate_type = training_kind = ""
    if template == "guangzhou":
        certificate_type = c.get("证书类型", "").strip('“”"')
        if certificate_type not in CERTIFICATE_TYPES:
            fault(
                "证书类型",
                _("Unknown certificate type “%(value)s”: write 主要负责人 or 安全生产管理人员.")
                % {"value": certificate_type},
            )
        training_kind = c.get("培训类别", "").strip('“”"')
        if training_kind not in TRAINING_KINDS:
            fault(
                "培训类别",
                _("Unknown training kind “%(value)s”: write 初始培训 or 再培训.") % {"value": training_kind},
            )
    return name, id_number, phone, certificate_type, training_kind


def _check(unit: Organisation, roster: Roster) -> tuple[list[Checked], list[RosterError]]:
    errors: list[RosterError] = []
    good: list[Checked] = []
    seen_ids: dict[str, int] = {}
    seen_phones: dict[str, int] = {}
    job_types = {j.name: j for j in JobType.objects.all()} | {j.code: j for j in JobType.objects.all()}
    teams = {t.name: t for t in Organisation.objects.subtree_of(unit).filter(kind=OrganisationKind.TEAM)}
    # "Here" is the unit's whole enterprise (an enterprise's own learner may be put on one of its projects).
    root = "/" + unit.path.strip("/").split("/")[0] + "/"  # paths look like "/12/34/"
    unit_orgs = set(Organisation.objects.filter(path__startswith=root).values_list("pk", flat=True))
    known = _known(roster, unit_orgs)
    for row in roster.rows:
        phone_ignored = False
        if known.no_phone and _id_index(row) in known.no_phone:
            # Their region keeps no phones: the column is neither checked nor kept for them.
            phone_ignored = bool((row.cells.get("手机号码") or "").strip())
            row = Row(row.number, {**row.cells, "手机号码": ""})
        c = row.cells
        problems: list[RosterError] = []
        serial, who = c.get("序号", "")[:10], clean_name(c.get("姓名", ""))[:60]

        def fault(
            column: str,
            message: str,
            row: Row = row,
            problems: list[RosterError] = problems,
            serial: str = serial,
            who: str = who,
        ) -> None:
            problems.append(RosterError(row.number, column, message, serial, who))

        name, id_number, phone, certificate_type, training_kind = check_person(
            row, roster.template, seen_ids, seen_phones, fault
        )
        job_type = team = None
        if c.get("工种"):
            job_type = job_types.get(c["工种"])
            if job_type is None:
                fault(
                    "工种",
                    _("Unknown job type “%(value)s”: use a name or code from the job-type list.")
                    % {"value": c["工种"]},
                )
        if c.get("班组"):
            team = teams.get(c["班组"])
            if team is None:
                fault(
                    "班组",
                    _("There is no team “%(value)s” in %(unit)s: create the team first or correct the name.")
                    % {"value": c["班组"], "unit": unit.name},
                )
        existing = known.users.get(id_index_of(id_number)) if id_number else None
        if existing is not None:
            elsewhere = known.elsewhere.get(existing.pk)
            if elsewhere is not None:
                fault(
                    "身份证号码",
                    _(
                        "This person is already registered with another unit (%(unit)s). Ask that unit to mark the "
                        "person as left, or contact customer service."
                    )
                    % {"unit": elsewhere.organisation.name},
                )
            if name and clean_name(existing.name) != name:
                fault(
                    "姓名",
                    _("The ID number is registered under another name. Check the name and the ID number."),
                )
        owner = known.phones.get(phone_index_of(phone)) if phone else None
        if owner is not None and (existing is None or owner != existing.pk):
            fault("手机号码", _("This mobile phone number is already used by another account."))
        if roster.template == "guangzhou" and not c.get("手机号码", "").strip() and existing is None:
            # Only a blank cell: a malformed number has its own message already.
            # 附件1: "手机号码必须填写学员本人的手机号码，一人一号，用于开通学习账号"
            fault("手机号码", _("The learner's own mobile phone number is required to open the account."))
        if problems:
            errors.extend(problems)
        else:
            good.append(
                Checked(
                    row,
                    name,
                    id_number,
                    phone,
                    job_type,
                    team,
                    certificate_type,
                    training_kind,
                    existing,
                    phone_ignored=phone_ignored,
                )
            )
    return good, errors


# Importing ----------------------------------------------------------------------------------------------------


def _readable_roster(unit: Organisation, data: bytes, actor: Any) -> Roster:
    if actor is not None and not Organisation.objects.administered_by(actor).filter(pk=unit.pk).exists():
        raise PermissionDenied("forbidden", _("You can only import people into your own units."))
    if unit.kind not in (OrganisationKind.ENTERPRISE, OrganisationKind.PROJECT, OrganisationKind.INSTITUTION):
        raise DomainError(
            "not_a_unit", _("People are imported into an enterprise, a project or an institution.")
        )
    roster = read_roster(data)
    if not roster.rows:
        raise DomainError(
            "empty_roster", _("The file lists nobody: fill in at least one person."), field="file"
        )
    return roster


def roster_import(
    *,
    unit: Organisation,
    data: bytes,
    filename: str,
    actor: Any = None,
    valid_rows_only: bool = False,
    progress: Callable[[int, int], None] | None = None,
    roster: Roster | None = None,
) -> RosterResult:
    """Import a roster into `unit` (an enterprise or project the actor administers). `progress(done, total)` is
    told how many of the new accounts' passwords are ready. `roster`: `data` as read_roster read it already."""
    roster = roster if roster is not None else _readable_roster(unit, data, actor)
    result = RosterResult()
    good, result.errors = _check(unit, roster)
    if result.errors and not valid_rows_only:
        return result
    # Hash the new people's initial passwords before the transaction: a slow hash per account must not hold the
    # audit chain's lock (every audited action of the platform waits for it).
    new = [item for item in good if item.existing is None]
    hashes = {}
    for number, item in enumerate(new, start=1):
        hashes[item.id_number] = make_password(initial_password_for(item.id_number))
        if progress is not None and (number % 10 == 0 or number == len(new)):
            progress(number, len(new))
    with transaction.atomic():
        good, result.errors = _check(unit, roster)  # again: someone may have registered since
        if result.errors and not valid_rows_only:
            return result
        result.left_out = len({e.row for e in result.errors})
        result.phones_ignored = sum(1 for item in good if item.phone_ignored)
        today = timezone.localdate()
        outcomes = []
        for item in good:
            user = item.existing
            outcome = "unchanged"
            if user is None:
                user = user_create(
                    id_number=item.id_number,
                    name=item.name,
                    organisation=item.team or unit,
                    role=Role.LEARNER,
                    phone=item.phone,
                    initial_password_hash=hashes.get(item.id_number, ""),
                )
                outcome = "created"
            elif not Membership.objects.filter(
                user=user, organisation=item.team or unit, role=Role.LEARNER, is_active=True
            ).exists():
                membership_grant(user=user, organisation=item.team or unit, role=Role.LEARNER)
                outcome = "linked"
            if item.team is not None:
                # One team at a time: moving to another team of this unit ends the old team membership.
                old_teams = Membership.objects.filter(
                    user=user,
                    role=Role.LEARNER,
                    is_active=True,
                    organisation__kind=OrganisationKind.TEAM,
                    organisation__path__startswith=unit.path,
                ).exclude(organisation=item.team)
                statistics_touch(old_teams)  # update() sends no signal
                old_teams.update(is_active=False)
            person, made = Personnel.objects.get_or_create(
                organisation=unit, user=user, defaults={"job_type": item.job_type, "joined_on": today}
            )
            if made and outcome == "unchanged":
                outcome = "linked"
            elif not made and (
                item.job_type and person.job_type_id != item.job_type.pk or not person.on_site
            ):
                person.job_type = item.job_type or person.job_type
                person.on_site, person.left_on = True, None
                person.save(update_fields=["job_type", "on_site", "left_on"])
                outcome = "linked" if outcome == "unchanged" else outcome
            setattr(result, outcome, getattr(result, outcome) + 1)
            outcomes.append(
                {
                    "row": item.row.number,
                    "user": user.pk,
                    "certificate_type": item.certificate_type,
                    "training_kind": item.training_kind,
                    "outcome": outcome,
                }
            )
        result.record = RosterImport.objects.create(
            organisation=unit,
            uploaded_by=actor if getattr(actor, "pk", None) else None,
            at=timezone.now(),
            filename=filename[:200],
            sha256=hashlib.sha256(data).hexdigest(),
            template=roster.template,
            header=roster.header,
            rows=outcomes,
            created=result.created,
            linked=result.linked,
            unchanged=result.unchanged,
            left_out=result.left_out,
        )
        audit_log(
            action="enterprise.roster_import",
            actor=actor,
            obj=unit,
            detail={
                "file": filename[:100],
                "created": result.created,
                "linked": result.linked,
                "unchanged": result.unchanged,
                "left_out": result.left_out,
                "phones_ignored": result.phones_ignored,
            },
        )
        result.imported = True
    return result


def roster_import_start(
    *, unit: Organisation, data: bytes, filename: str, actor: Any = None, valid_rows_only: bool = False
) -> RosterResult | RosterJob:
    """Check the roster now; import it now when it opens few accounts, else in the background (a RosterJob the
    page follows). A faulty roster is answered at once, whatever its size."""
    roster = _readable_roster(unit, data, actor)
    good, errors = _check(unit, roster)
    if errors and not valid_rows_only:
        return RosterResult(errors=errors)
    new = sum(1 for item in good if item.existing is None)
    if new <= settings.ROSTER_INLINE_NEW_ACCOUNTS:
        return roster_import(
            unit=unit,
            data=data,
            filename=filename,
            actor=actor,
            valid_rows_only=valid_rows_only,
            roster=roster,
        )
    from safetrain.enterprise.tasks import run_roster_job

    job = RosterJob(
        organisation=unit,
        uploaded_by=actor if getattr(actor, "pk", None) else None,
        filename=filename[:200],
        valid_rows_only=valid_rows_only,
        total=new,
    )
    job.file.save(f"{hashlib.sha256(data).hexdigest()[:16]}.xlsx", ContentFile(data), save=False)
    job.save()
    transaction.on_commit(lambda: run_roster_job.delay(job.pk))
    return job


def roster_jobs_requeue_waiting(*, older_than: dt.timedelta) -> int:
    """Send the import task again for roster jobs waiting longer than `older_than` (a message the broker lost); a job
    runs once however many messages arrive (roster_job_run claims it)."""
    from safetrain.enterprise.tasks import run_roster_job

    waiting = RosterJob.objects.filter(state=JobState.QUEUED)
    return jobs_resend(waiting=waiting, task=run_roster_job, kind="roster", older_than=older_than)


def roster_job_run(job_id: int) -> RosterJob:
    """The background import of a RosterJob (once: a job that is not waiting is left alone)."""
    if not RosterJob.objects.filter(pk=job_id, state=JobState.QUEUED).update(state=JobState.RUNNING):
        return RosterJob.objects.get(pk=job_id)
    job = RosterJob.objects.select_related("organisation", "uploaded_by").get(pk=job_id)

    def progress(done: int, total: int) -> None:
        RosterJob.objects.filter(pk=job_id).update(done=done, total=total)

    try:
        with job.file.open("rb") as handle:
            data = handle.read()
        result = roster_import(
            unit=job.organisation,
            data=data,
            filename=job.filename,
            actor=job.uploaded_by,
            valid_rows_only=job.valid_rows_only,
            progress=progress,
        )
    except DomainError as error:
        job.state, job.error = JobState.FAILED, error.message
    except Exception:  # noqa: BLE001 - the admin is told; the log has the details
        logger.exception("roster job %s failed", job_id)
        job.state = JobState.FAILED
        job.error = _(
            "The import failed on the server; nothing was imported. Please try again or call customer service."
        )
    else:
        job.state = JobState.DONE
        job.result = {
            "imported": result.imported,
            "created": result.created,
            "linked": result.linked,
            "unchanged": result.unchanged,
            "left_out": result.left_out,
            "phones_ignored": result.phones_ignored,
            "errors": [
                {"row": e.row, "column": e.column, "message": e.message, "serial": e.serial, "name": e.name}
                for e in result.errors
            ],
        }
    job.finished_at = timezone.now()
    job.save(update_fields=["state", "error", "result", "finished_at"])
    return job


def person_leave(*, person: Personnel, actor: Any = None, day: dt.date | None = None) -> Personnel:
    """离场: the person left the site; the account and every record stay."""
    if (
        actor is not None
        and not Organisation.objects.administered_by(actor).filter(pk=person.organisation_id).exists()
    ):
        raise PermissionDenied("forbidden", _("You can only manage the people of your own units."))
    person.on_site = False
    person.left_on = day or timezone.localdate()
    person.save(update_fields=["on_site", "left_on"])
    ended = Membership.objects.filter(
        user=person.user, organisation__path__startswith=person.organisation.path, role=Role.LEARNER
    )
    statistics_touch(ended)  # update() sends no signal
    ended.update(is_active=False)
    audit_log(
        action="enterprise.person_leave", actor=actor, obj=person.user, organisation_id=person.organisation_id
    )
    return person


# Templates and the account list -------------------------------------------------------------------------------


def template_workbook(kind: str) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    if kind == "guangzhou":
        sheet.title = "报名表"
        sheet.append(["企业主要负责人和安全生产管理人员 线上培训报名表"])
        sheet.append(["单位名称：", ""])
        sheet.append(["联系人：", "", "联系电话：", ""])
        sheet.append(["邮寄证书信息", "收件人：", "", "收件人电话：", ""])
        sheet.append(["", "地址：", ""])
        sheet.append(["参训人员信息"])
        sheet.append(list(GUANGZHOU_COLUMNS))
        heading_row = sheet.max_row
        sheet.append([1, "张三", "", "", "主要负责人", "初始培训"])
    else:
        sheet.title = "人员名单"
        sheet.append(list(PLAIN_COLUMNS))
        heading_row = 1
        sheet.append(["张三", "", "", "钢筋工", ""])
    for cell in sheet[heading_row]:
        cell.font = Font(bold=True)
    for row in sheet.iter_rows(min_row=heading_row + 1, max_row=heading_row + 300):
        for cell in row[:6]:
            cell.number_format = "@"  # text: ID and phone numbers keep every digit
    notes = workbook.create_sheet("填写说明")
    for line in (
        "身份证号码、手机号码两列已设为文本格式，请直接填写，不要改成数字格式。",
        "手机号码须为学员本人手机号码，一人一号。",
        "证书类型填“主要负责人”或“安全生产管理人员”；培训类别填“初始培训”或“再培训”。",
        "工种填写工种名称或代码；班组须是本项目已建立的班组。",
        "有任何一行错误时默认不导入，可选择“只导入正确的行”。同一文件重复导入不会重复建号。",
        "新建账号的初始密码为身份证号码后6位（字母X大写），首次登录须修改密码。",
    ):
        notes.append([line])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def account_list(*, unit: Organisation, actor: Any = None) -> bytes:
    """The printable account list (ACC-03): name, username (the ID number) and, for accounts that still have it,
    the initial password. Exporting it is logged."""
    if actor is not None and not Organisation.objects.administered_by(actor).filter(pk=unit.pk).exists():
        raise PermissionDenied("forbidden", _("You can only manage the people of your own units."))
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "账号清单"
    sheet.append(["姓名", "登录账号（身份证号码）", "初始密码", "状态"])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    # Only people on site with an active membership here: someone who left is another unit's business now. The
    # unit's projects and teams are included (one definition of the unit's people, enterprise.selectors).
    members = set(
        Membership.objects.filter(organisation__path__startswith=unit.path, is_active=True).values_list(
            "user_id", flat=True
        )
    )
    people = [p for p in on_site_records(unit) if p.user_id in members]
    for person in people:
        user = person.user
        initial = initial_password_for(user.id_number) if user.must_change_password else "（已修改）"
        sheet.append([user.name, user.id_number, initial, "在场"])
        for cell in sheet[sheet.max_row]:
            cell.data_type = "s"
    audit_log(action="enterprise.account_list_export", actor=actor, obj=unit, detail={"people": len(people)})
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
