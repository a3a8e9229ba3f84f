"""The project training report (培训通报表, ENT-05) and the people lists behind its numbers.

The four numbers, as the Shenzhen platform defines them (seeds/000 item 16), all counted among the people on
site now:

- on site (在场人数): the project's people not marked as left;
- trained (在场已培训数): started at least one course, i.e. some study time is credited to them (time cancelled
  for confirmed cheating does not count); the exam may still be to take, a course may still be to do;
- examined (在场已考核人数): finished at least one exam (submitted, pass or fail); a course may still be to do;
- completed (在场已完成培训人数): finished the general course and the own job-type course (every required course
  of the enrolment, PRG-02) and passed the exam; in a programme without an exam the courses alone.

Training counts wherever the person did it (the Shenzhen result is valid across the city): a worker who trained
at the last project counts here too. Only construction workers' programmes count; voided enrolments do not.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font

from safetrain.accounts.models import Membership
from safetrain.assessment.models import AttemptKind, ExamAttempt, PaperRule
from safetrain.catalog.models import Audience
from safetrain.core.errors import DomainError, PermissionDenied
from safetrain.enterprise.models import Personnel
from safetrain.enterprise.selectors import on_site_records
from safetrain.learning.models import Enrolment, EnrolmentStatus
from safetrain.learning.selectors import Completion, completion
from safetrain.orgs.models import Organisation, OrganisationKind

COLUMNS = ("on_site", "trained", "examined", "completed", "untrained")


def column_label(column: str) -> str:
    return {
        "on_site": _("On site"),
        "trained": _("On site, trained"),
        "examined": _("On site, examined"),
        "completed": _("On site, training completed"),
        "untrained": _("On site, not trained yet"),
    }[column]


@dataclass
class EnrolmentRow:
    enrolment: Enrolment
    completion: Completion
    has_exam: bool
    examined: bool = False
    passed: bool = False
    best_percent: Decimal | None = None

    @property
    def completed(self) -> bool:
        return self.completion.courses_complete and (self.passed or not self.has_exam)


@dataclass
class PersonRow:
    """One person of a unit with where their training stands (every enrolment that is not void)."""

    person: Personnel
    team: str = ""
    enrolments: list[EnrolmentRow] = field(default_factory=list)

    @property
    def user(self) -> Any:
        return self.person.user

    @property
    def trained(self) -> bool:
        return any(row.completion.started for row in self.enrolments)

    @property
    def examined(self) -> bool:
        return any(row.examined for row in self.enrolments)

    @property
    def completed(self) -> bool:
        return any(row.completed for row in self.enrolments)

    @property
    def credited_minutes(self) -> float:
        return round(sum(row.completion.credited_minutes for row in self.enrolments), 1)

    @property
    def main(self) -> EnrolmentRow | None:
        """The enrolment to show: a completed one, else the furthest along."""
        if not self.enrolments:
            return None
        return max(
            self.enrolments,
            key=lambda r: (r.completed, r.examined, r.completion.courses_done, r.completion.credited_minutes),
        )

    def status_label(self) -> str:
        if self.completed:
            return _("Training completed")
        if self.examined:
            return _("Exam taken, training not complete")
        if self.trained:
            return _("Training started")
        if self.enrolments:
            return _("Enrolled, not started")
        return _("Not trained yet")


def team_names(unit: Organisation, user_ids: list[int]) -> dict[int, str]:
    """Each person's team (班组) in the unit: teams are set here, never synced (ENT-03)."""
    return dict(
        Membership.objects.filter(
            user_id__in=user_ids,
            is_active=True,
            organisation__kind=OrganisationKind.TEAM,
            organisation__path__startswith=unit.path,
        ).values_list("user_id", "organisation__name")
    )


def people_rows(
    unit: Organisation, people: list[Personnel], *, programme_id: int | None = None, audience: str = ""
) -> list[PersonRow]:
    """Training of these people of `unit` (in one programme only, if given), in a fixed number of queries however
    many they are."""
    user_ids = [p.user_id for p in people]
    enrolments = Enrolment.objects.filter(learner_id__in=user_ids).exclude(status=EnrolmentStatus.VOID)
    if programme_id is not None:
        enrolments = enrolments.filter(programme_id=programme_id)
    if audience:
        enrolments = enrolments.filter(programme__audience=audience)
    enrolments = list(enrolments.select_related("programme", "programme__profile", "job_type"))
    states = completion(enrolments)
    programme_ids = {e.programme_id for e in enrolments}
    with_rule = set(
        PaperRule.objects.filter(programme_id__in=programme_ids, is_active=True).values_list(
            "programme_id", flat=True
        )
    )
    rows = {
        e.pk: EnrolmentRow(
            e, states[e.pk], has_exam=bool(e.programme.profile.exam_preset) or e.programme_id in with_rule
        )
        for e in enrolments
    }
    for enrolment_id, passed, score, total in ExamAttempt.objects.filter(
        enrolment_id__in=rows, kind=AttemptKind.EXAM, submitted_at__isnull=False
    ).values_list("enrolment_id", "passed", "score", "total"):
        row = rows[enrolment_id]
        row.examined = True
        row.passed = row.passed or bool(passed)
        if score is not None and total:
            percent = (score * 100 / total).quantize(Decimal("0.1"))
            row.best_percent = max(row.best_percent or percent, percent)
    teams = team_names(unit, user_ids)
    by_user: dict[int, PersonRow] = {}
    out = []
    for person in people:
        person_row = PersonRow(person, teams.get(person.user_id, ""))
        by_user[person.user_id] = person_row
        out.append(person_row)
    for row in rows.values():
        by_user[row.enrolment.learner_id].enrolments.append(row)
    return out


@dataclass
class ProjectReport:
    project: Organisation
    rows: list[PersonRow]
    at: dt.datetime

    def people(self, column: str) -> list[PersonRow]:
        if column not in COLUMNS:
            raise DomainError("unknown_column", _("There is no such column in the report."))
        if column == "on_site":
            return self.rows
        if column == "untrained":
            return [r for r in self.rows if not r.trained]
        return [r for r in self.rows if getattr(r, column)]

    def count(self, column: str) -> int:
        return len(self.people(column))

    @property
    def counts(self) -> dict[str, int]:
        return {column: self.count(column) for column in COLUMNS}

    @property
    def completed_percent(self) -> int:
        return round(100 * self.count("completed") / len(self.rows)) if self.rows else 0

    def team_figures(self) -> list[TeamFigures]:
        """The report per team (班组) of the project, every team listed (those with nobody on site too), then the
        people in no team; each person counts in one team (their current one)."""
        teams = Organisation.objects.filter(
            path__startswith=self.project.path, kind=OrganisationKind.TEAM
        ).order_by("name")
        figures = {team.name: TeamFigures(team.name) for team in teams}
        for row in self.rows:
            item = figures.setdefault(row.team, TeamFigures(row.team))
            item.on_site += 1
            if row.trained:
                item.trained += 1
                if row.completed:
                    item.completed += 1
                else:
                    item.in_training += 1
            else:
                item.untrained += 1
        return sorted(figures.values(), key=lambda f: (f.team == "", f.team))


@dataclass
class TeamFigures:
    """One team's numbers (班组统计): on site, trained (started), of them completed and still in training, and not
    trained yet (trained = completed + in training; on site = trained + not trained)."""

    team: str  # "" for the people in no team
    on_site: int = 0
    trained: int = 0
    completed: int = 0
    in_training: int = 0
    untrained: int = 0


def on_site_people(project: Organisation) -> list[Personnel]:
    """The project's people on site, its teams' included (enterprise.selectors, the one definition)."""
    return on_site_records(project)


def project_report(project: Organisation) -> ProjectReport:
    """The report counts construction workers' programmes (PRG-02) only: a course of another kind somewhere else
    says nothing about the site's safety training."""
    return ProjectReport(
        project,
        people_rows(project, on_site_people(project), audience=Audience.CONSTRUCTION_WORKER),
        timezone.now(),
    )


def visible_projects(user: Any) -> Any:
    """Projects the viewer may see the report of: an admin's own, a regulator's region's, all for operators."""
    return (
        Organisation.objects.supervised_by(user)
        .filter(kind=OrganisationKind.PROJECT)
        .select_related("parent")
        .order_by("parent__name", "name", "pk")
    )


# Excel --------------------------------------------------------------------------------------------------------


def _workbook_bytes(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _bold_first_row(sheet: Any) -> None:
    for cell in sheet[1]:
        cell.font = Font(bold=True)


def reports_workbook(reports: list[ProjectReport]) -> bytes:
    """The 培训通报表 of these projects, one row each, with a totals row."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "培训通报表"
    sheet.append(
        ["项目名称", "所属企业", "在场人数", "在场已培训数", "在场已考核人数", "在场已完成培训人数", "完成率"]
    )
    _bold_first_row(sheet)
    totals = dict.fromkeys(COLUMNS, 0)
    for report in reports:
        counts = report.counts
        for key in totals:
            totals[key] += counts[key]
        sheet.append(
            [
                report.project.name,
                report.project.parent.name if report.project.parent else "",
                counts["on_site"],
                counts["trained"],
                counts["examined"],
                counts["completed"],
                f"{report.completed_percent}%",
            ]
        )
    if len(reports) > 1:
        percent = round(100 * totals["completed"] / totals["on_site"]) if totals["on_site"] else 0
        sheet.append(
            [
                "合计",
                "",
                totals["on_site"],
                totals["trained"],
                totals["examined"],
                totals["completed"],
                f"{percent}%",
            ]
        )
    if reports:
        sheet.append([])
        sheet.append([f"统计时间：{timezone.localtime(reports[0].at):%Y-%m-%d %H:%M}"])
    sheet.append(["在场已培训数：已参加培训（至少一门课程有学时）；在场已考核人数：至少完成一次考试；"])
    sheet.append(["在场已完成培训人数：通识课程和工种课程全部完成并且考试合格。"])
    for column, width in zip("ABCDEFG", (30, 24, 10, 14, 16, 20, 10), strict=True):
        sheet.column_dimensions[column].width = width
    return _workbook_bytes(workbook)


def people_workbook(report: ProjectReport, column: str) -> bytes:
    """The people behind one number of the report."""
    return rows_workbook(report.people(column), column_label(column))


def rows_workbook(rows: list[PersonRow], title: str) -> bytes:
    """A list of people with their training, as the pages show it."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = (
        re.sub(r"[\\/?*\[\]:]", " ", title)[:31].strip() or "人员"
    )  # characters Excel refuses in names
    sheet.append(
        [
            "序号",
            "姓名",
            "身份证号码",
            "工种",
            "班组",
            "培训项目",
            "已获学时（分钟）",
            "课程完成",
            "考试",
            "培训状态",
        ]
    )
    _bold_first_row(sheet)
    for number, row in enumerate(rows, start=1):
        main = row.main
        exam = "—"
        if main is not None and main.examined:
            exam = (
                f"合格 {main.best_percent or ''}".strip()
                if main.passed
                else f"不合格 {main.best_percent or ''}".strip()
            )
        sheet.append(
            [
                number,
                row.user.name,
                row.user.masked_id_number,
                str(row.person.job_type) if row.person.job_type else "",
                row.team,
                main.enrolment.programme.name if main else "",
                row.credited_minutes,
                f"{main.completion.courses_done}/{len(main.completion.required_courses)}" if main else "",
                exam,
                row.status_label(),
            ]
        )
    return _workbook_bytes(workbook)


def scope_check(user: Any, project: Organisation) -> None:
    if not visible_projects(user).filter(pk=project.pk).exists():
        raise PermissionDenied("forbidden", _("You can only see the reports of your own projects."))
