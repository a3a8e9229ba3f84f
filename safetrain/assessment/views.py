"""The question-bank page for operators (EXM-01): browse a programme's bank, import and export Excel files."""

from __future__ import annotations

import mimetypes
import re
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from safetrain.accounts.models import UNIT_ADMIN_ROLES
from safetrain.assessment import exam_checks, offline, printing
from safetrain.assessment.api import attempt_out
from safetrain.assessment.bank import questions_export, questions_import, template_workbook
from safetrain.assessment.exams import (
    active_rule,
    attempt_for,
    attempts_left,
    exam_overview,
    exam_page_key,
    exam_start,
)
from safetrain.assessment.links import certificate_link
from safetrain.assessment.models import (
    AttemptKind,
    Difficulty,
    OfflineTestPaper,
    OfflineTestResult,
    PaperRule,
    QuestionKind,
)
from safetrain.assessment.papers import (
    KIND_NAMES,
    paper_rule_from_preset,
    paper_rule_save,
    preset_name,
    rule_total,
)
from safetrain.assessment.selectors import attempt_review, exams_with_identity_failures, option_letter
from safetrain.assessment.wrongbook import WrongFilters, practise, wrong_items
from safetrain.catalog.models import Programme
from safetrain.core.decorators import staff_required
from safetrain.core.errors import DomainError
from safetrain.core.forms import DateInput
from safetrain.core.http import pdf_response, xlsx_response
from safetrain.orgs.models import Organisation, OrganisationKind
from safetrain.proctoring.services import has_reference_photo, reference_photo_hold


@staff_required()
def bank_view(request: HttpRequest) -> HttpResponse:
    programmes = Programme.objects.annotate(questions_count=Count("questions")).order_by("code")
    programme = None
    if request.GET.get("programme"):
        programme = get_object_or_404(Programme, code=request.GET["programme"])
    context = {"programmes": programmes, "programme": programme}
    if programme is not None:
        questions = programme.questions.select_related("course").order_by("pk")
        context["page"] = Paginator(questions, 50).get_page(request.GET.get("page"))
        labels = dict(QuestionKind.choices)
        context["by_kind"] = [
            (labels[row["kind"]], row["n"])
            for row in questions.values("kind").annotate(n=Count("pk")).order_by("kind")
        ]
    return render(request, "assessment/bank.html", context)


@staff_required()
def bank_import_view(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return redirect("assessment:bank")
    programme = get_object_or_404(Programme, code=request.POST.get("programme", ""))
    upload = request.FILES.get("file")
    context = {"programme": programme, "programmes": Programme.objects.order_by("code")}
    if upload is None:
        context["error"] = _("Choose the Excel file (.xlsx) to import.")
        return render(request, "assessment/bank_import.html", context, status=400)
    if upload.size > 10 * 1024 * 1024:
        context["error"] = _("The file is larger than 10 MB.")
        return render(request, "assessment/bank_import.html", context, status=400)
    try:
        result = questions_import(
            programme=programme,
            data=upload.read(),
            valid_rows_only=request.POST.get("valid_rows_only") == "1",
            actor=request.user,
        )
    except DomainError as exc:
        context["error"] = exc.message
        return render(request, "assessment/bank_import.html", context, status=400)
    context["result"] = result
    if not result.imported:
        return render(request, "assessment/bank_import.html", context, status=400)
    messages.success(
        request,
        _(
            "%(created)d questions imported, %(unchanged)d already in the bank, %(skipped)d faulty rows left out."
        )
        % {"created": result.created, "unchanged": result.unchanged, "skipped": result.skipped_rows},
    )
    if result.errors:
        return render(request, "assessment/bank_import.html", context)
    return redirect(f"{reverse('assessment:bank')}?programme={programme.code}")


@staff_required()
def bank_export_view(request: HttpRequest) -> HttpResponse:
    programme = get_object_or_404(Programme, code=request.GET.get("programme", ""))
    return xlsx_response(questions_export(programme=programme), f"题库-{programme.code}.xlsx")


@staff_required()
def bank_template_view(request: HttpRequest) -> HttpResponse:
    return xlsx_response(template_workbook(), "题库导入模板.xlsx")


# Taking exams (EXM-03..05) -------------------------------------------------------------------------------------


@login_required
def my_exams_view(request: HttpRequest) -> HttpResponse:
    rows = exam_overview(request.user)
    for row in rows:
        row["offline"] = offline.status(row["enrolment"])  # EXM-08, where the region requires it
    return render(request, "assessment/my_exams.html", {"rows": rows})


@login_required
def exam_start_view(request: HttpRequest, code: str) -> HttpResponse:
    """考试须知 and the start: a face check first where required (FACE-01), then the paper."""
    programme = get_object_or_404(Programme, code=code)
    kind = request.POST.get("kind") or request.GET.get("kind") or AttemptKind.EXAM
    error = ""
    if request.method == "POST":
        try:
            attempt = exam_start(learner=request.user, programme=programme, kind=kind, request=request)
        except DomainError as exc:
            error = exc.message
        else:
            return redirect("assessment:attempt", attempt_id=attempt.pk)
    try:
        rule = active_rule(programme)
    except DomainError as exc:
        rule, error = None, error or exc.message
    photo_hold = reference_photo_hold(request.user)
    return render(
        request,
        "assessment/exam_start.html",
        {
            "programme": programme,
            "rule": rule,
            "kind": kind,
            "error": error,
            "face_required": settings.FACE_CHECK_AT_EXAM and kind == AttemptKind.EXAM,
            # A photo counts once approved (identity binding): until then the page says why, with no check.
            "has_photo": has_reference_photo(request.user) and not photo_hold,
            "photo_hold": photo_hold,
            "kind_names": KIND_NAMES,
        },
        status=400 if error else 200,
    )


@login_required
def attempt_view(request: HttpRequest, attempt_id: int) -> HttpResponse:
    try:
        attempt = attempt_for(request.user, attempt_id)
    except DomainError as exc:
        raise Http404 from exc
    if attempt.submitted_at is not None:
        return redirect("assessment:result", attempt_id=attempt.pk)
    paper = attempt_out(attempt)
    saved_at = {a.question_id: int(a.saved_at.timestamp() * 1000) for a in attempt.answers.all()}
    questions = []
    for q in paper.questions:
        saved = q.answer or []
        fill = q.kind == QuestionKind.FILL
        questions.append(
            {
                **q.dict(),
                "answer": [] if fill else saved,
                "blank_values": [saved[i] if i < len(saved) else "" for i in range(q.blanks)] if fill else [],
                "saved_at": saved_at.get(q.id, 0),
                "answered": any(str(v).strip() for v in saved) if fill else bool(saved),
            }
        )
    answered_count = sum(1 for q in questions if q["answered"])
    return render(
        request,
        "assessment/attempt.html",
        {
            "attempt": attempt,
            "paper": paper,
            "questions": questions,
            "answered_count": answered_count,
            "open_count": len(questions) - answered_count,
            # FACE-01 during the exam: the camera panel, shown when the server says a check is due.
            "face_checks": exam_checks.enabled(attempt),
            "face_poll_seconds": exam_checks.POLL_SECONDS,
            # Sent with each answer (X-Exam-Key): the answers of this sign-in skip the page stack.
            "exam_key": exam_page_key(attempt, request),
        },
    )


@login_required
def result_view(request: HttpRequest, attempt_id: int) -> HttpResponse:
    try:
        attempt = attempt_for(request.user, attempt_id)
    except DomainError as exc:
        raise Http404 from exc
    if attempt.submitted_at is None:
        return redirect("assessment:attempt", attempt_id=attempt.pk)
    left = attempts_left(attempt.enrolment, attempt.rule)
    answers = {a.question_id: a for a in attempt.answers.all()}
    review = attempt_review(attempt)  # EXM-06: the marked paper, as far as the region profile allows
    if request.GET.get("wrong") == "1":
        review["items"] = [i for i in review["items"] if not i["correct"]]
    return render(
        request,
        "assessment/result.html",
        {
            "attempt": attempt,
            "left": left,
            "answered": len(answers),
            "right": sum(1 for a in answers.values() if a.correct),
            "questions": len(attempt.items),
            "review": review,
            "only_wrong": request.GET.get("wrong") == "1",
            "certificate": certificate_link(attempt.enrolment) if attempt.passed else None,
        },
    )


@staff_required("enterprise_admin", "institution_admin", "regulator")
def identity_checks_view(request: HttpRequest) -> HttpResponse:
    """Exam attempts in which an identity check was not passed (ended, or flagged for review), of the learners the
    viewer may see; the checks' snapshots are on the face checks page."""
    page = Paginator(exams_with_identity_failures(viewer=request.user), 50).get_page(request.GET.get("page"))
    return render(request, "assessment/identity_checks.html", {"page": page})


WRONG_BOOK_PAGE_SIZE = 10


def _wrong_rows(item: Any) -> Any:
    """The item ready to show: lettered options, the learner's answer and the right answer as text."""
    item.rows = [
        {
            "index": i,
            "letter": option_letter(i),
            "text": text,
            "right": i in item.answer,
            "given": i in item.given,
        }
        for i, text in enumerate(item.options)
    ]
    if item.kind == QuestionKind.FILL:
        item.right_text = "；".join("/".join(group) for group in item.answer)
        item.given_text = "；".join(str(v) for v in item.given if str(v).strip())
        item.blank_range = range(len(item.answer))
    else:
        item.right_text = "".join(option_letter(i) for i in sorted(item.answer))
        item.given_text = "".join(option_letter(i) for i in sorted(item.given) if isinstance(i, int))
        item.blank_range = range(0)
    item.key = f"{item.source}-{item.question_id}"
    return item


def _wrong_filters(data: Any) -> WrongFilters:
    kind = data.get("kind", "")
    return WrongFilters(
        programme=data.get("programme", "")[:60],
        kind=kind if kind in QuestionKind.values else "",
        point=data.get("point", "")[:100],
    )


def _wrong_query(filters: WrongFilters, **extra: Any) -> str:
    """The filters (and extra values) as a query string for links that keep them."""
    values = {"programme": filters.programme, "kind": filters.kind, "point": filters.point, **extra}
    return urlencode({k: v for k, v in values.items() if v not in ("", None)})


def _practice_answer(post: Any, kind: str) -> list[Any]:
    if kind == QuestionKind.FILL:
        return post.getlist("blank")
    value = [int(v) for v in post.getlist("option")]
    if not value:
        raise ValueError("no option")
    return value


@login_required
def wrong_book_view(request: HttpRequest) -> HttpResponse:
    """错题本 (EXM-06): the questions answered wrong with the learner's own answer, the right answer and the
    explanation; filters by programme, type and knowledge point; paging; and a practice mode that asks the questions
    again one by one with the verdict at once (answered right, a question is mastered and leaves the book)."""
    data = request.POST if request.method == "POST" else request.GET
    # A practice answer posts the filters back with the type as kind_filter ("kind" is the legacy form's).
    filters = _wrong_filters(
        data if request.method == "GET" else {**data.dict(), "kind": data.get("kind_filter", "")}
    )
    if request.method == "POST" and request.POST.get("mode") != "practice":
        # The one-click form of earlier versions: answer, then back to the book with a message.
        try:
            right, _item = practise(
                learner=request.user,
                source=request.POST.get("source", ""),
                question_id=int(request.POST.get("question", "0")),
                value=_practice_answer(request.POST, request.POST.get("kind", "")),
            )
        except ValueError:
            messages.error(request, _("Choose an answer first."))
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            if right:
                messages.success(request, _("Right! The question leaves your wrong-answer book."))
            else:
                messages.error(
                    request, _("Not right yet: look at the right answer and the explanation, then try again.")
                )
        return redirect("assessment:wrong_book")
    everything = wrong_items(request.user)
    items = [i for i in everything if filters.keep(i)]
    kinds = dict(QuestionKind.choices)
    context: dict[str, Any] = {
        "filters": filters,
        "total": len(everything),
        "count": len(items),
        "programmes": sorted({(i.programme_code, i.programme_name) for i in everything if i.programme_code}),
        "kinds": [(k, kinds[k]) for k in QuestionKind.values if any(i.kind == k for i in everything)],
        "points": sorted({i.knowledge_point for i in everything if i.knowledge_point}),
        "query": _wrong_query(filters),
    }
    if data.get("mode") != "practice":
        page = Paginator(items, WRONG_BOOK_PAGE_SIZE).get_page(request.GET.get("page"))
        for item in page.object_list:
            _wrong_rows(item)
        context["page"] = page
        return render(request, "assessment/wrong_book.html", context)

    # Practice mode: one question at a time, the verdict at once.
    try:
        index = max(0, int(data.get("i", "0") or 0))
    except ValueError:
        index = 0
    status = 200
    feedback = None
    if request.method == "POST":
        key = request.POST.get("item", "")
        item = next((i for i in items if f"{i.source}-{i.question_id}" == key), None)
        try:
            if item is None:
                raise DomainError("not_in_book", _("This question is not in your wrong-answer book."))
            value = _practice_answer(request.POST, item.kind)
            right, _same = practise(
                learner=request.user, source=item.source, question_id=item.question_id, value=value
            )
        except ValueError:
            feedback = {"error": _("Choose an answer first, then press Check my answer.")}
            status = 400
        except DomainError as exc:
            feedback = {"error": exc.message}
            status = 400
        else:
            item.given = value
            # Right: the question has left the book, so the next one now has this position.
            feedback = {"right": right, "next": index if right else index + 1}
    else:
        item = items[index] if index < len(items) else None
    if item is not None:
        _wrong_rows(item)
    context.update(
        {
            "practice": True,
            "item": item,
            "index": index,
            "position": index + 1,
            "feedback": feedback,
            "next_query": _wrong_query(filters, mode="practice", i=(feedback or {}).get("next", index + 1)),
        }
    )
    return render(request, "assessment/wrong_practice.html", context, status=status)


@login_required
def question_image_view(request: HttpRequest, attempt_id: int, question_id: int) -> HttpResponse:
    """A question's picture, for the candidate whose paper has it (exam content is not public)."""
    try:
        attempt = attempt_for(request.user, attempt_id)
    except DomainError as exc:
        raise Http404 from exc
    item = next((i for i in attempt.items if i["question"] == question_id and i.get("image")), None)
    if item is None or not default_storage.exists(item["image"]):
        raise Http404
    with default_storage.open(item["image"], "rb") as fh:
        data = fh.read()
    response = HttpResponse(data, content_type=mimetypes.guess_type(item["image"])[0] or "image/jpeg")
    response["Cache-Control"] = "private, no-store"
    return response


# The offline total test (EXM-08) -------------------------------------------------------------------------------


class OfflinePaperForm(forms.Form):
    programme = forms.ModelChoiceField(label=_lazy("Programme"), queryset=Programme.objects.none())
    organisation = forms.ModelChoiceField(label=_lazy("Unit"), queryset=Organisation.objects.none())
    held_on = forms.DateField(label=_lazy("Test date"), widget=DateInput())
    duration_minutes = forms.IntegerField(
        label=_lazy("Duration (minutes)"), min_value=10, max_value=300, initial=90
    )
    count = forms.IntegerField(
        label=_lazy("Number of questions"),
        min_value=offline.MIN_QUESTIONS,
        max_value=offline.MAX_QUESTIONS,
        initial=offline.MIN_QUESTIONS,
    )

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["programme"].queryset = Programme.objects.filter(
            profile__offline_total_test=True
        ).order_by("code")
        self.fields["organisation"].queryset = Organisation.objects.administered_by(viewer).filter(
            kind__in=[OrganisationKind.ENTERPRISE, OrganisationKind.PROJECT, OrganisationKind.INSTITUTION]
        )


def _paper_for(request: HttpRequest, paper_id: int) -> OfflineTestPaper:
    paper = get_object_or_404(
        OfflineTestPaper.objects.select_related("programme__profile", "organisation"), pk=paper_id
    )
    if not Organisation.objects.administered_by(request.user).filter(pk=paper.organisation_id).exists():
        raise Http404
    return paper


@staff_required(*UNIT_ADMIN_ROLES)
def offline_tests_view(request: HttpRequest) -> HttpResponse:
    form = OfflinePaperForm(
        request.POST or None, viewer=request.user, initial={"held_on": timezone.localdate()}
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                paper = offline.paper_create(**form.cleaned_data, actor=request.user)
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
                status = 400
            else:
                if not settings.CELERY_TASK_ALWAYS_EAGER:
                    # With a worker, both PDFs are made while the page opens (EXM-08: 12 s and 6 s of work).
                    for kind in printing.KINDS:
                        printing.pdf_request(paper=paper, kind=kind, actor=request.user)
                messages.success(
                    request,
                    _("Paper %(number)s is ready: print it and its answer key.") % {"number": paper.number},
                )
                return redirect("assessment:offline_test", paper_id=paper.pk)
        else:
            status = 400
    papers = (
        OfflineTestPaper.objects.filter(organisation__in=Organisation.objects.administered_by(request.user))
        .select_related("programme", "organisation")
        .annotate(entered=Count("results", filter=Q(results__corrects__isnull=True)))[:200]
    )
    return render(request, "assessment/offline_tests.html", {"form": form, "papers": papers}, status=status)


@staff_required(*UNIT_ADMIN_ROLES)
def offline_test_view(request: HttpRequest, paper_id: int) -> HttpResponse:
    paper = _paper_for(request, paper_id)
    entered: dict[int, str] = {}
    row_errors: dict[int, str] = {}
    status = 200
    if request.method == "POST" and request.POST.get("action") == "correct":
        result_id = request.POST.get("result", "")
        if not re.fullmatch(r"\d{1,18}", result_id):
            raise Http404
        result = get_object_or_404(OfflineTestResult, pk=int(result_id), paper=paper)
        try:
            offline.result_correct(
                result=result,
                score=request.POST.get("score", ""),
                reason=request.POST.get("reason", ""),
                actor=request.user,
            )
        except DomainError as exc:
            messages.error(request, exc.message)
            status = 400
        else:
            messages.success(request, _("The score was corrected; the earlier entry is kept in the record."))
            return redirect("assessment:offline_test", paper_id=paper.pk)
    elif request.method == "POST":
        entered = {
            int(match[1]): value.strip()
            for key, value in request.POST.items()
            if (match := re.fullmatch(r"score-([0-9]{1,18})", key)) and value.strip()
        }
        try:
            saved = offline.scores_enter(paper=paper, scores=entered, actor=request.user)
        except DomainError as exc:
            messages.error(request, exc.message)
            row_errors = {int(k): v for k, v in exc.details.get("rows", {}).items()}
            status = 400
        else:
            messages.success(request, _("%(count)d score(s) saved.") % {"count": len(saved)})
            return redirect("assessment:offline_test", paper_id=paper.pk)
    rows = [
        {
            **row,
            "value": entered.get(row["enrolment"].pk, ""),
            "error": row_errors.get(row["enrolment"].pk, ""),
        }
        for row in offline.score_sheet(paper)
    ]
    return render(
        request,
        "assessment/offline_test.html",
        {
            "paper": paper,
            "rows": rows,
            "pass_mark": offline.PASS_MARK,
            "documents": [_offline_pdf_context(paper, kind) for kind in printing.KINDS],
        },
        status=status,
    )


def _offline_pdf(request: HttpRequest, paper_id: int, kind: str) -> HttpResponse:
    """The PDF once made; otherwise its making is queued and the paper's page shows the progress (EXM-08)."""
    paper = _paper_for(request, paper_id)
    if printing.pdf_request(paper=paper, kind=kind, actor=request.user) == printing.READY:
        return pdf_response(printing.pdf_bytes(paper, kind), printing.download_name(paper, kind))
    messages.info(request, _("The PDF is being made: it appears below as soon as it is ready."))
    return redirect(reverse("assessment:offline_test", kwargs={"paper_id": paper.pk}) + "#documents")


@staff_required(*UNIT_ADMIN_ROLES)
def offline_paper_pdf_view(request: HttpRequest, paper_id: int) -> HttpResponse:
    return _offline_pdf(request, paper_id, "paper")


@staff_required(*UNIT_ADMIN_ROLES)
def offline_key_pdf_view(request: HttpRequest, paper_id: int) -> HttpResponse:
    return _offline_pdf(request, paper_id, "key")


@staff_required(*UNIT_ADMIN_ROLES)
def offline_pdf_state_view(request: HttpRequest, paper_id: int, kind: str) -> HttpResponse:
    """The htmx-polled state of one PDF (正在生成… / download); a POST starts its making."""
    paper = _paper_for(request, paper_id)
    if kind not in printing.KINDS:
        raise Http404
    if request.method == "POST":
        printing.pdf_request(paper=paper, kind=kind, actor=request.user)
        if not request.headers.get("HX-Request"):
            return redirect(reverse("assessment:offline_test", kwargs={"paper_id": paper.pk}) + "#documents")
    return render(request, "assessment/_offline_pdf.html", _offline_pdf_context(paper, kind))


def _offline_pdf_context(paper: OfflineTestPaper, kind: str) -> dict[str, Any]:
    return {"paper": paper, "kind": kind, "state": printing.pdf_state(paper, kind)}


# Paper rules (EXM-02) -------------------------------------------------------------------------------------------


def _rule_values(rule: PaperRule | None, programme: Programme) -> dict[str, Any]:
    """The form's values: the active rule's, else the programme's defaults."""
    values: dict[str, Any] = {
        "name": rule.name if rule else f"{programme.name}考试",
        "duration_minutes": rule.duration_minutes if rule else programme.profile.exam_duration_minutes,
        "pass_mark": rule.pass_mark if rule else programme.setting("exam_pass_mark"),
        "attempts": rule.attempts if rule else programme.setting("exam_attempts"),
        "shuffle_options": rule.shuffle_options if rule else True,
        "question_ids": ", ".join(str(pk) for pk in (rule.question_ids if rule else [])),
    }
    sections = {s["kind"]: s for s in (rule.sections if rule else [])}
    for kind in QuestionKind.values:
        section = sections.get(kind, {})
        values[f"{kind}-count"] = section.get("count", "") if not (rule and rule.question_ids) else ""
        values[f"{kind}-score"] = section.get("score", "")
        for level in ("1", "2", "3"):
            values[f"{kind}-d{level}"] = (section.get("difficulty") or {}).get(level, "")
        values[f"{kind}-points"] = "\n".join(
            f"{p}：{n}" for p, n in (section.get("knowledge_points") or {}).items()
        )
    return values


def _small_int(text: str) -> int:
    if not re.fullmatch(r"\d{1,4}", text):
        raise ValueError(text)
    return int(text)


def _posted_rule(post: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        key: post.get(key, "").strip()[:2000] for key in post if key != "csrfmiddlewaretoken"
    }
    values["shuffle_options"] = post.get("shuffle_options") == "on"
    values["name"] = values.get("name", "")[:100]
    return values


def _rule_from_post(values: dict[str, Any]) -> tuple[list[dict[str, Any]], list[int]]:
    """The posted form (see _posted_rule) as paper_rule_save's arguments; a DomainError says which box is wrong."""
    ids_text = values.get("question_ids", "")
    try:
        parts = [part for part in re.split(r"[\s,，、;；]+", ids_text) if part]
        if not all(re.fullmatch(r"\d{1,9}", part) for part in parts):
            raise ValueError
        question_ids = [int(part) for part in parts]
    except ValueError:
        raise DomainError(
            "manual_questions",
            _("List the manual paper's question numbers separated by commas, e.g. 12, 15, 31."),
        ) from None
    sections = []
    for kind in QuestionKind.values:
        count, score = values.get(f"{kind}-count", ""), values.get(f"{kind}-score", "")
        if not count and not score:
            continue
        section: dict[str, Any] = {
            "kind": kind,
            "count": count or (0 if not question_ids else 1),
            "score": score,
        }
        try:
            difficulty = {
                level: _small_int(values[f"{kind}-d{level}"])
                for level in "123"
                if values.get(f"{kind}-d{level}")
            }
        except ValueError:
            raise DomainError(
                "difficulty_quota",
                _("%(kind)s: difficulty quotas are whole numbers.") % {"kind": KIND_NAMES[kind]},
            ) from None
        if difficulty:
            section["difficulty"] = difficulty
        points: dict[str, int] = {}
        for line in values.get(f"{kind}-points", "").splitlines():
            if not line.strip():
                continue
            match = re.fullmatch(r"\s*(.{1,100}?)\s*[:：]\s*(\d{1,4})\s*", line)
            if not match:
                raise DomainError(
                    "points_quota",
                    _(
                        "%(kind)s: write each knowledge-point quota on its own line as “point: number” (%(line)s)."
                    )
                    % {"kind": KIND_NAMES[kind], "line": line.strip()},
                )
            points[match[1]] = int(match[2])
        if points:
            section["knowledge_points"] = points
        sections.append(section)
    return sections, question_ids


@staff_required()
def paper_rule_view(request: HttpRequest, code: str) -> HttpResponse:
    programme = get_object_or_404(Programme.objects.select_related("profile"), code=code)
    rule = PaperRule.objects.filter(programme=programme, is_active=True).first()
    values = _rule_values(rule, programme)
    status = 200
    if request.method == "POST":
        try:
            if request.POST.get("action") == "preset":
                paper_rule_from_preset(programme=programme, actor=request.user)
            else:
                values = _posted_rule(request.POST)
                sections, question_ids = _rule_from_post(values)
                paper_rule_save(
                    programme=programme,
                    name=values.get("name", ""),
                    sections=sections,
                    duration_minutes=values.get("duration_minutes", ""),
                    pass_mark=values.get("pass_mark", ""),
                    attempts=values.get("attempts", ""),
                    question_ids=question_ids,
                    shuffle_options=values["shuffle_options"],
                    actor=request.user,
                )
        except DomainError as exc:
            messages.error(request, exc.message)
            status = 400
        else:
            messages.success(request, _("The paper rule is saved; new papers follow it."))
            return redirect("assessment:paper_rule", code=programme.code)
    bank = programme.questions.filter(is_active=True)
    counts = {
        (row["kind"], row["difficulty"]): row["n"]
        for row in bank.values("kind", "difficulty").annotate(n=Count("pk"))
    }
    kinds = [
        {
            "value": kind,
            "label": label,
            "have": sum(n for (k, _level), n in counts.items() if k == kind),
            "levels": [counts.get((kind, level), 0) for level in (1, 2, 3)],
            "count": values.get(f"{kind}-count", ""),
            "score": values.get(f"{kind}-score", ""),
            "d": [values.get(f"{kind}-d{level}", "") for level in "123"],
            "points": values.get(f"{kind}-points", ""),
        }
        for kind, label in QuestionKind.choices
    ]
    context = {
        "programme": programme,
        "rule": rule,
        "total": rule_total(rule) if rule else None,
        "values": values,
        "kinds": kinds,
        "levels": [label for _value, label in Difficulty.choices],
        "preset_name": preset_name(programme),
    }
    return render(request, "assessment/paper_rule.html", context, status=status)
