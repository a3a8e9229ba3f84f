"""The offline total test (线下总测, EXM-08; Shanxi notice 十二): after all theory training the using unit prints a paper
of at least 100 questions drawn at random from the programme's bank, with a separate answer key, marks it by hand
and enters each learner's score here. Pass 80; one retake after a fail; a failed retake means the learner must be
trained again (需要重新组织培训)."""

from __future__ import annotations

import io
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from safetrain.accounts.models import Membership
from safetrain.assessment.exams import unlock_problems
from safetrain.assessment.models import OfflineTestPaper, OfflineTestResult, Question, QuestionKind
from safetrain.catalog.models import OfflineAttendance, Programme
from safetrain.core.errors import DomainError, PermissionDenied
from safetrain.core.pdf import NEXT_LINE, Document
from safetrain.learning.models import Enrolment
from safetrain.learning.selectors import enrolment_overview
from safetrain.orgs.models import Organisation
from safetrain.records.services import audit_log

MIN_QUESTIONS = 100
MAX_QUESTIONS = 300
PASS_MARK = Decimal(80)
SITTINGS = 2  # the test and one retake
KIND_ORDER = [QuestionKind.SINGLE, QuestionKind.MULTIPLE, QuestionKind.TRUE_FALSE, QuestionKind.FILL]
SECTION_TITLES = {
    QuestionKind.SINGLE: "单项选择题",
    QuestionKind.MULTIPLE: "多项选择题",
    QuestionKind.TRUE_FALSE: "判断题",
    QuestionKind.FILL: "填空题",
}
CHINESE_NUMERALS = "一二三四"
LETTERS = "ABCDEFGHIJ"

_random = secrets.SystemRandom()


class Status:
    NOT_REQUIRED = "not_required"
    PENDING = "pending"
    PASSED = "passed"
    RETAKE = "retake"
    RETRAIN = "retrain"


def required(programme: Programme) -> bool:
    return bool(programme.profile.offline_total_test)


def _check_unit(actor: Any, organisation: Organisation) -> None:
    if actor is None:
        return
    if not Organisation.objects.administered_by(actor).filter(pk=organisation.pk).exists():
        raise PermissionDenied("forbidden", _("You can only hold offline tests for your own units."))


# Papers ----------------------------------------------------------------------------------------------------------


def _answer_text(question: Question, order: list[int]) -> str:
    if question.kind == QuestionKind.FILL:
        return "；".join("/".join(str(t) for t in blank) for blank in question.answer)
    if question.kind == QuestionKind.TRUE_FALSE:
        return "√" if 0 in question.answer else "×"
    return "".join(LETTERS[place] for place, original in enumerate(order) if original in question.answer)


def paper_create(
    *,
    programme: Programme,
    organisation: Organisation,
    held_on: date,
    duration_minutes: int,
    count: int = MIN_QUESTIONS,
    actor: Any = None,
    rng: Any = None,
) -> OfflineTestPaper:
    """Draw a new paper: `count` questions (100..300) at random from the programme's active bank, grouped by type,
    choice options shuffled. Each paper is its own draw, so the retake gets different questions from the test."""
    rng = rng or _random
    _check_unit(actor, organisation)
    if not required(programme):
        raise DomainError(
            "offline_test_not_required",
            _("The programme's region profile has no offline total test (%(profile)s).")
            % {"profile": programme.profile.name},
            field="programme",
        )
    if not (MIN_QUESTIONS <= count <= MAX_QUESTIONS):
        raise DomainError(
            "offline_test_count",
            _("An offline total test has between %(low)d and %(high)d questions.")
            % {"low": MIN_QUESTIONS, "high": MAX_QUESTIONS},
            field="count",
        )
    if not (10 <= duration_minutes <= 300):
        raise DomainError(
            "offline_test_duration",
            _("The duration must be between 10 and 300 minutes."),
            field="duration_minutes",
        )
    bank = list(Question.objects.filter(programme=programme, is_active=True))
    if len(bank) < count:
        raise DomainError(
            "offline_test_bank_too_small",
            _(
                "The question bank of %(programme)s has %(have)d active questions; this paper needs %(need)d. Import "
                "more questions (including ones on your unit's own rules and cases) or ask for fewer."
            )
            % {"programme": programme.name, "have": len(bank), "need": count},
            field="count",
        )
    chosen = rng.sample(bank, count)
    chosen.sort(key=lambda q: KIND_ORDER.index(q.kind))  # stable: random order within each type
    items = []
    for question in chosen:
        order = list(range(len(question.options)))
        if question.kind in (QuestionKind.SINGLE, QuestionKind.MULTIPLE):
            rng.shuffle(order)
        items.append(
            {
                "question": question.pk,
                "kind": question.kind,
                "stem": question.stem,
                "image": question.image.name if question.image else "",
                "options": [question.options[i] for i in order]
                if question.kind != QuestionKind.TRUE_FALSE
                else [],
                "answer": _answer_text(question, order),
            }
        )
    for _try in range(5):
        number = f"ZC{held_on:%Y%m%d}-{secrets.token_hex(3).upper()}"
        try:
            with transaction.atomic():
                paper = OfflineTestPaper.objects.create(
                    number=number,
                    programme=programme,
                    organisation=organisation,
                    held_on=held_on,
                    duration_minutes=duration_minutes,
                    items=items,
                    created_by=actor if getattr(actor, "pk", None) else None,
                )
                audit_log(
                    action="offline_test.paper_create",
                    actor=actor,
                    obj=paper,
                    organisation_id=organisation.pk,
                    detail={"number": number, "programme": programme.code, "questions": count},
                )
                return paper
        except IntegrityError:
            continue
    raise RuntimeError("could not find a free paper number")


def _sections(paper: OfflineTestPaper) -> list[tuple[str, list[tuple[int, dict[str, Any]]]]]:
    sections: list[tuple[str, list[tuple[int, dict[str, Any]]]]] = []
    for number, item in enumerate(paper.items, start=1):
        if not sections or sections[-1][0] != item["kind"]:
            sections.append((item["kind"], []))
        sections[-1][1].append((number, item))
    return sections


def _points(paper: OfflineTestPaper) -> str:
    count = len(paper.items)
    if count == MIN_QUESTIONS:
        return "每题 1 分"
    return f"每题 {Decimal(100) / count:.2f} 分（得分 = 答对题数 ÷ {count} × 100）"


def _image(pdf: Document, name: str) -> None:
    try:
        with default_storage.open(name, "rb") as handle:
            data = io.BytesIO(handle.read())
    except OSError:
        return
    pdf.keep_together(45)
    pdf.image(data, x=pdf.l_margin + 6, h=40)


def paper_pdf(paper: OfflineTestPaper) -> bytes:
    """The printable paper: heading, the candidate's name, ID number and score boxes, then the questions by type."""
    programme = paper.programme
    pdf = Document(
        title=f"{programme.name} 线下总测试卷 {paper.number}", footer_text=f"试卷编号 {paper.number}"
    )
    pdf.add_page()
    pdf.heading(f"{programme.name}\n线下总测试卷")
    pdf.ln(2)
    pdf.paragraph(
        f"使用单位：{paper.organisation.name}    考试日期：{paper.held_on:%Y年%m月%d日}    "
        f"时间：{paper.duration_minutes} 分钟    试卷编号：{paper.number}",
        size=9.5,
    )
    pdf.paragraph(
        f"共 {len(paper.items)} 题，满分 100 分，{PASS_MARK:.0f} 分及格；{_points(paper)}。"
        "不及格者可补考一次，补考仍不及格的须重新组织培训。",
        size=9.5,
    )
    pdf.ln(2)
    pdf.set_font(pdf.font_family, size=11)
    for label, width in (("姓名", 50), ("身份证号", 80), ("得分", 44)):
        pdf.cell(width, 10, f"{label}：", border=1)
    pdf.ln(14)
    for index, (kind, numbered) in enumerate(_sections(paper)):
        pdf.keep_together(20)
        pdf.paragraph(
            f"{CHINESE_NUMERALS[index]}、{SECTION_TITLES[kind]}（共 {len(numbered)} 题）", size=12, bold=True
        )
        pdf.ln(1)
        for number, item in numbered:
            lines = 2 + len(item["options"]) // 2
            pdf.keep_together(lines * 6)
            mark = "（    ）" if kind != QuestionKind.FILL else ""
            pdf.paragraph(f"{number}. {item['stem']} {mark}", height=6)
            if item.get("image"):
                _image(pdf, item["image"])
            if item["options"]:
                text = "    ".join(f"{LETTERS[i]}. {option}" for i, option in enumerate(item["options"]))
                pdf.set_x(pdf.l_margin + 6)
                pdf.multi_cell(0, 6, text, align="L", **NEXT_LINE)
            pdf.ln(1.5)
    return pdf.render()


def key_pdf(paper: OfflineTestPaper) -> bytes:
    """The answer key, for the markers only: every question's number and answer, in a grid."""
    programme = paper.programme
    pdf = Document(
        title=f"{programme.name} 线下总测答案 {paper.number}", footer_text=f"答案 · 试卷编号 {paper.number}"
    )
    pdf.add_page()
    pdf.heading(f"{programme.name}\n线下总测参考答案")
    pdf.ln(2)
    pdf.paragraph(
        f"试卷编号：{paper.number}    使用单位：{paper.organisation.name}    考试日期：{paper.held_on:%Y年%m月%d日}",
        size=9.5,
    )
    pdf.paragraph(
        f"共 {len(paper.items)} 题，满分 100 分，{PASS_MARK:.0f} 分及格；{_points(paper)}。仅供阅卷使用，请勿外传。",
        size=9.5,
    )
    pdf.ln(3)
    for index, (kind, numbered) in enumerate(_sections(paper)):
        pdf.keep_together(16)
        pdf.paragraph(f"{CHINESE_NUMERALS[index]}、{SECTION_TITLES[kind]}", size=11.5, bold=True)
        pdf.ln(1)
        per_row = 5 if kind != QuestionKind.FILL else 1
        width = (pdf.w - pdf.l_margin - pdf.r_margin) / per_row
        for start in range(0, len(numbered), per_row):
            pdf.keep_together(8)
            for number, item in numbered[start : start + per_row]:
                pdf.cell(width, 7, f"{number}. {item['answer']}", border=1)
            pdf.ln(7)
        pdf.ln(3)
    return pdf.render()


# Eligibility and results -------------------------------------------------------------------------------------------


def offline_minutes(enrolment: Enrolment) -> int:
    """Minutes of the programme's offline sessions the learner attended (PRG-04)."""
    return (
        OfflineAttendance.objects.filter(
            learner_id=enrolment.learner_id, present=True, session__programme_id=enrolment.programme_id
        ).aggregate(total=Sum("session__minutes"))["total"]
        or 0
    )


def theory_problems(
    enrolment: Enrolment, overview: list[dict[str, Any]] | None = None, offline_done: int | None = None
) -> list[str]:
    """What keeps the learner from the total test: online study not finished (the exam's unlock rule) and offline
    minutes short of the programme's share (`offline_done` when the caller counted them already)."""
    problems = unlock_problems(enrolment, overview)
    need = enrolment.programme.offline_minutes_required()
    done = offline_minutes(enrolment) if offline_done is None else offline_done
    if done < need:
        problems.append(_("Offline training: %(done)d of %(need)d minutes.") % {"done": done, "need": need})
    return problems


def effective_results(enrolment: Enrolment) -> dict[int, OfflineTestResult]:
    """The standing result per sitting: the latest entry (corrections replace earlier entries, which stay)."""
    results: dict[int, OfflineTestResult] = {}
    for result in (
        OfflineTestResult.objects.filter(enrolment=enrolment)
        .select_related("paper")
        .order_by("entered_at", "pk")
    ):
        results[result.sitting] = result
    return results


@dataclass
class OfflineStatus:
    state: str
    results: dict[int, OfflineTestResult]

    @property
    def message(self) -> str:
        return {
            Status.NOT_REQUIRED: _("No offline total test in this programme."),
            Status.PENDING: _("Offline total test not taken yet."),
            Status.PASSED: _("Offline total test passed."),
            Status.RETAKE: _("Offline total test failed: one retake is allowed."),
            Status.RETRAIN: _("Offline total test and its retake failed: the learner must be trained again."),
        }[self.state]

    @property
    def next_sitting(self) -> int | None:
        return {Status.PENDING: 1, Status.RETAKE: 2}.get(self.state)


def status(enrolment: Enrolment, results: dict[int, OfflineTestResult] | None = None) -> OfflineStatus:
    if not required(enrolment.programme):
        return OfflineStatus(Status.NOT_REQUIRED, {})
    results = effective_results(enrolment) if results is None else results
    if any(r.passed for r in results.values()):
        return OfflineStatus(Status.PASSED, results)
    if not results:
        return OfflineStatus(Status.PENDING, results)
    return OfflineStatus(Status.RETAKE if len(results) < SITTINGS else Status.RETRAIN, results)


def passed(enrolment: Enrolment) -> bool:
    """The offline part is done, or not required (CERT-01, CERT-03)."""
    return status(enrolment).state in (Status.PASSED, Status.NOT_REQUIRED)


SCORE = re.compile(r"\d{1,3}(\.\d+)?")


def parse_score(text: Any) -> Decimal:
    value = unicodedata.normalize("NFKC", str(text)).strip().replace("。", ".")
    try:
        if not SCORE.fullmatch(value):
            raise InvalidOperation
        score = Decimal(value)
    except InvalidOperation:
        raise DomainError(
            "score_invalid", _("“%(value)s” is not a score: write a number from 0 to 100.") % {"value": value}
        ) from None
    if not score.is_finite() or not (0 <= score <= 100):
        raise DomainError(
            "score_invalid", _("A score is a number from 0 to 100, not %(value)s.") % {"value": value}
        )
    if score != score.quantize(Decimal("0.1")):
        raise DomainError(
            "score_invalid",
            _("Give the score with at most one decimal place (%(value)s).") % {"value": value},
        )
    return score.quantize(Decimal("0.1"))


def score_sheet(paper: OfflineTestPaper) -> list[dict[str, Any]]:
    """The paper's page: every candidate with its standing, its results, and what keeps a first sitting from being
    entered. Results and offline minutes are read for everybody at once; only learners still waiting for their
    first sitting need their study overview."""
    enrolments = list(candidates(paper))
    results: dict[int, dict[int, OfflineTestResult]] = {}
    for result in (
        OfflineTestResult.objects.filter(enrolment__in=enrolments)
        .select_related("paper")
        .order_by("entered_at", "pk")
    ):
        results.setdefault(result.enrolment_id, {})[result.sitting] = result
    minutes = dict(
        OfflineAttendance.objects.filter(
            learner_id__in=[e.learner_id for e in enrolments],
            present=True,
            session__programme_id=paper.programme_id,
        )
        .values("learner_id")
        .annotate(total=Sum("session__minutes"))
        .values_list("learner_id", "total")
    )
    active = set(
        Enrolment.objects.active().filter(pk__in=[e.pk for e in enrolments]).values_list("pk", flat=True)
    )
    sheet = []
    for enrolment in enrolments:
        standing = status(enrolment, results.get(enrolment.pk, {}))
        problems = []
        if standing.state == Status.PENDING:
            # An enrolment past its deadline gets no first sitting (unlock_problems says so for an empty overview).
            overview = (
                enrolment_overview(enrolment.learner, enrolments=[enrolment])
                if enrolment.pk in active
                else []
            )
            problems = theory_problems(enrolment, overview, offline_done=minutes.get(enrolment.learner_id, 0))
        sheet.append(
            {
                "enrolment": enrolment,
                "status": standing,
                "results": [standing.results[s] for s in sorted(standing.results)],
                "problems": problems,
                "open": bool(standing.next_sitting)
                and not problems
                and (standing.state != Status.RETAKE or retake_paper_ok(standing.results[1], paper)),
            }
        )
    return sheet


def retake_paper_ok(first: OfflineTestResult, paper: OfflineTestPaper) -> bool:
    """A retake is sat on a paper drawn after the first result was entered (so not one the learner has seen)."""
    return paper.pk != first.paper_id and paper.created_at > first.entered_at


def candidates(paper: OfflineTestPaper) -> QuerySet[Enrolment]:
    """Enrolments in the paper's programme of people of the paper's unit (enrolled by it, or its members)."""
    unit = paper.organisation
    return (
        Enrolment.objects.filter(programme_id=paper.programme_id)
        .filter(
            Q(organisation__path__startswith=unit.path)
            | Q(
                learner__in=Membership.objects.filter(
                    organisation__path__startswith=unit.path, is_active=True
                ).values("user_id")
            )
        )
        .select_related("learner", "programme__profile")
        .order_by("pk")  # names are encrypted: no meaningful order in SQL
    )


def scores_enter(
    *, paper: OfflineTestPaper, scores: dict[int, Any], actor: Any = None
) -> list[OfflineTestResult]:
    """Enter the marked scores of one sitting of `paper`: {enrolment id: score}. Each learner's sitting follows
    from the results so far (the test, or the retake after a fail). All or nothing: any bad row refuses the whole
    entry, and the DomainError's details list every row's problem as {enrolment id: message}."""
    _check_unit(actor, paper.organisation)
    if not scores:
        raise DomainError("scores_empty", _("Enter at least one score."))
    with transaction.atomic():
        enrolments = {
            e.pk: e for e in candidates(paper).filter(pk__in=list(scores)).select_for_update(of=("self",))
        }
        errors: dict[int, str] = {}
        plan: list[tuple[Enrolment, int, Decimal]] = []
        for enrolment_id, text in scores.items():
            enrolment = enrolments.get(enrolment_id)
            if enrolment is None:
                errors[enrolment_id] = _(
                    "This person is not enrolled in the paper's programme through your unit."
                )
                continue
            try:
                score = parse_score(text)
            except DomainError as exc:
                errors[enrolment_id] = exc.message
                continue
            standing = status(enrolment)
            if standing.state == Status.PASSED:
                errors[enrolment_id] = _("Already passed; to fix a wrong score use “Correct”.")
                continue
            if standing.state == Status.RETRAIN:
                errors[enrolment_id] = _(
                    "The test and its retake were failed: the learner must be trained again."
                )
                continue
            if enrolment.learner_id == getattr(actor, "pk", None):
                errors[enrolment_id] = _("You cannot enter your own score.")
                continue
            if standing.state == Status.RETAKE and not retake_paper_ok(standing.results[1], paper):
                errors[enrolment_id] = _(
                    "The retake must be on a new paper: draw one and enter the retake there."
                )
                continue
            # The theory is checked before the first sitting; the retake follows it (even after the deadline).
            problems = theory_problems(enrolment) if standing.state == Status.PENDING else []
            if problems:
                errors[enrolment_id] = _("Theory training not finished: %(problems)s") % {
                    "problems": " ".join(problems)
                }
                continue
            plan.append((enrolment, standing.next_sitting or 1, score))
        if errors:
            raise DomainError(
                "scores_invalid",
                _("Nothing was saved: %(count)d row(s) need fixing.") % {"count": len(errors)},
                rows=errors,
            )
        now = timezone.now()
        saved = []
        for enrolment, sitting, score in plan:
            result = OfflineTestResult.objects.create(
                enrolment=enrolment,
                paper=paper,
                sitting=sitting,
                score=score,
                passed=score >= PASS_MARK,
                entered_by=actor if getattr(actor, "pk", None) else None,
                entered_at=now,
            )
            audit_log(
                action="offline_test.score_enter",
                actor=actor,
                obj=result,
                organisation_id=paper.organisation_id,
                detail={
                    "paper": paper.number,
                    "enrolment": enrolment.pk,
                    "sitting": sitting,
                    "score": str(score),
                },
            )
            saved.append(result)
            if result.passed:
                from safetrain.certification.services import (
                    issue_after_commit,
                )  # certification builds on this

                issue_after_commit(enrolment.pk)
    return saved


def result_correct(
    *, result: OfflineTestResult, score: Any, reason: str, actor: Any = None
) -> OfflineTestResult:
    """Correct a wrongly entered score: a new entry for the same sitting that stands from now on; the old one stays.
    Only the standing entry of the learner's latest sitting can be corrected (a retake already entered would
    otherwise be left without its fail)."""
    _check_unit(actor, result.paper.organisation)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("reason_required", _("Say why the score is corrected."), field="reason")
    value = parse_score(score)
    with transaction.atomic():
        enrolment = Enrolment.objects.select_for_update().get(pk=result.enrolment_id)
        standing = effective_results(enrolment)
        latest = standing[max(standing)]
        if latest.pk != result.pk:
            raise DomainError(
                "not_latest",
                _("Only the latest standing score of a learner can be corrected."),
            )
        if value == result.score:
            raise DomainError("unchanged", _("The new score is the same as the old one."), field="score")
        correction = OfflineTestResult.objects.create(
            enrolment=enrolment,
            paper=result.paper,
            sitting=result.sitting,
            score=value,
            passed=value >= PASS_MARK,
            corrects=result,
            reason=reason[:200],
            entered_by=actor if getattr(actor, "pk", None) else None,
            entered_at=timezone.now(),
        )
        audit_log(
            action="offline_test.score_correct",
            actor=actor,
            obj=correction,
            organisation_id=result.paper.organisation_id,
            detail={
                "from": str(result.score),
                "to": str(value),
                "reason": reason[:200],
                "sitting": result.sitting,
            },
        )
        if correction.passed:
            from safetrain.certification.services import issue_after_commit  # certification builds on this

            issue_after_commit(enrolment.pk)
    return correction
