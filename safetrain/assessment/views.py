"""The question-bank page for operators (EXM-01): browse a programme's bank, import and export Excel files."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _

from safetrain.assessment.bank import questions_export, questions_import, template_workbook
from safetrain.assessment.models import QuestionKind
from safetrain.catalog.models import Programme
from safetrain.core.decorators import staff_required
from safetrain.core.errors import DomainError

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
