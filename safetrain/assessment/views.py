"""The question-bank page for operators (EXM-01): browse a programme's bank, import and export Excel files."""

from __future__ import annotations

import mimetypes

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _

from safetrain.assessment.api import attempt_out
from safetrain.assessment.bank import questions_export, questions_import, template_workbook
from safetrain.assessment.exams import active_rule, attempt_for, attempts_left, exam_overview, exam_start
from safetrain.assessment.models import AttemptKind, QuestionKind
from safetrain.assessment.papers import KIND_NAMES
from safetrain.assessment.wrongbook import practise, wrong_items
from safetrain.catalog.models import Programme
from safetrain.core.decorators import staff_required
from safetrain.core.errors import DomainError
from safetrain.proctoring.services import has_reference_photo

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _xlsx(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


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
    return _xlsx(questions_export(programme=programme), f"题库-{programme.code}.xlsx")


@staff_required()
def bank_template_view(request: HttpRequest) -> HttpResponse:
    return _xlsx(template_workbook(), "题库导入模板.xlsx")


# Taking exams (EXM-03..05) -------------------------------------------------------------------------------------


@login_required
def my_exams_view(request: HttpRequest) -> HttpResponse:
    return render(request, "assessment/my_exams.html", {"rows": exam_overview(request.user)})


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
    return render(
        request,
        "assessment/exam_start.html",
        {
            "programme": programme,
            "rule": rule,
            "kind": kind,
            "error": error,
            "face_required": settings.FACE_CHECK_AT_EXAM and kind == AttemptKind.EXAM,
            "has_photo": has_reference_photo(request.user),
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
            }
        )
    return render(
        request, "assessment/attempt.html", {"attempt": attempt, "paper": paper, "questions": questions}
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
    return render(
        request,
        "assessment/result.html",
        {
            "attempt": attempt,
            "left": left,
            "answered": len(answers),
            "right": sum(1 for a in answers.values() if a.correct),
            "questions": len(attempt.items),
        },
    )


@login_required
def wrong_book_view(request: HttpRequest) -> HttpResponse:
    """错题本 (EXM-06): the questions answered wrong, the right answers and explanations, and practice."""
    if request.method == "POST":
        source = request.POST.get("source", "")
        try:
            question_id = int(request.POST.get("question", "0"))
            if request.POST.get("kind") == QuestionKind.FILL:
                value: list = request.POST.getlist("blank")
            else:
                value = [int(v) for v in request.POST.getlist("option")]
            right, _item = practise(learner=request.user, source=source, question_id=question_id, value=value)
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
    items = wrong_items(request.user)
    letters = "ABCDEF"
    for item in items:
        item.rows = [
            {
                "index": i,
                "letter": letters[i] if i < len(letters) else str(i + 1),
                "text": text,
                "right": i in item.answer,
                "given": i in item.given,
            }
            for i, text in enumerate(item.options)
        ]
        item.right_text = (
            "；".join("/".join(group) for group in item.answer)
            if item.kind == QuestionKind.FILL
            else "".join(letters[i] for i in item.answer)
        )
        item.blank_range = range(len(item.answer)) if item.kind == QuestionKind.FILL else range(0)
    return render(request, "assessment/wrong_book.html", {"items": items})


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
