"""Learner-facing pages: catalogue, course page, lesson player, my programmes; media served only to the enrolled."""

from __future__ import annotations

import math
import mimetypes
import posixpath

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from safetrain.catalog.models import (
    ConstructionCategory,
    Course,
    CourseMaterial,
    CourseStatus,
    Lesson,
    Programme,
    Video,
)
from safetrain.catalog.search import search
from safetrain.catalog.selectors import course_outline, rating_summary
from safetrain.catalog.services import question_ask, rating_set
from safetrain.core.decorators import staff_required
from safetrain.core.display import clock
from safetrain.core.errors import DomainError
from safetrain.learning.selectors import (
    can_open_course_media,
    can_open_video,
    course_enrolment,
    course_marks,
    lesson_study,
    my_programmes,
    outline_marked,
)
from safetrain.proctoring.services import has_reference_photo, reference_photo_hold


@login_required
def my_programmes_view(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":  # self-enrolment, where the programme allows it
        from safetrain.learning.services import enrolment_self

        programme = Programme.objects.filter(pk=request.POST.get("programme"), is_published=True).first()
        try:
            if programme is None:
                raise DomainError("programme_not_found", _("This programme does not exist."))
            enrolment_self(learner=request.user, programme=programme)
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("You are enrolled in %(p)s.") % {"p": programme.name})
        return redirect("learning:my_programmes")
    cards = my_programmes(request.user)
    enrolled = {card.programme.pk for card in cards}
    open_programmes = Programme.objects.filter(is_published=True, self_enrolment=True).exclude(
        pk__in=enrolled
    )
    return render(
        request, "learning/my_programmes.html", {"cards": cards, "open_programmes": open_programmes}
    )


@login_required
def catalogue_view(request: HttpRequest) -> HttpResponse:
    courses = Course.objects.published().with_rating().prefetch_related("teachers")
    query = request.GET.get("q", "")
    category = request.GET.get("category", "")
    kind = request.GET.get("kind", "")
    if category in ConstructionCategory.values:
        courses = courses.filter(construction_category=category)
    if kind == "public":
        courses = courses.filter(is_public=True)
    elif kind == "professional":
        courses = courses.filter(is_public=False)
    courses = search(courses, query)
    page = Paginator(courses.order_by("code"), 20).get_page(request.GET.get("page"))
    return render(
        request,
        "learning/catalogue.html",
        {
            "page": page,
            "q": query,
            "category": category,
            "kind": kind,
            "categories": ConstructionCategory.choices,
        },
    )


def _published_course(code: str, user) -> Course:
    course = get_object_or_404(Course, code=code)
    if course.status != CourseStatus.PUBLISHED and not user.sees_everything():
        raise Http404
    return course


@login_required
def course_view(request: HttpRequest, code: str) -> HttpResponse:
    course = _published_course(code, request.user)
    enrolment = course_enrolment(request.user, course)
    enrolled = enrolment is not None or request.user.sees_everything()
    marks = course_marks(enrolment, course)
    return render(
        request,
        "learning/course.html",
        {
            "course": course,
            "outline": outline_marked(course_outline(course), marks),
            "marks": marks,
            "enrolled": enrolled,
            "enrolment": enrolment,
            "rating": rating_summary(course),
            "my_rating": course.ratings.filter(learner=request.user).first(),
            "questions": course.questions.select_related("asker").order_by("-created_at")[:50],
            "materials": course.materials.all() if enrolled else [],
        },
    )


@login_required
@require_POST
def course_rate_view(request: HttpRequest, code: str) -> HttpResponse:
    course = _published_course(code, request.user)
    if course_enrolment(request.user, course) is None:
        return HttpResponseForbidden(_("Only learners enrolled in this course can rate it."))
    try:
        stars = int(request.POST.get("stars", "0"))
        rating_set(course=course, learner=request.user, stars=stars, comment=request.POST.get("comment", ""))
    except (ValueError, DomainError) as exc:
        messages.error(
            request, exc.message if isinstance(exc, DomainError) else _("Rate the course with 1 to 5 stars.")
        )
    else:
        messages.success(request, _("Thank you for rating the course."))
    return redirect("learning:course", code=course.code)


@login_required
@require_POST
def course_ask_view(request: HttpRequest, code: str) -> HttpResponse:
    course = _published_course(code, request.user)
    if course_enrolment(request.user, course) is None:
        return HttpResponseForbidden(_("Only learners enrolled in this course can ask questions."))
    try:
        question_ask(course=course, asker=request.user, text=request.POST.get("text", ""))
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Your question was sent; a teacher will answer it here."))
    return redirect("learning:course", code=course.code)


@login_required
def lesson_view(request: HttpRequest, code: str, lesson_id: int) -> HttpResponse:
    course = _published_course(code, request.user)
    lesson = get_object_or_404(
        Lesson.objects.select_related("video", "chapter"), pk=lesson_id, chapter__course=course
    )
    if not can_open_course_media(request.user, course):
        return render(request, "learning/not_enrolled.html", {"course": course}, status=403)
    enrolment = course_enrolment(request.user, course)  # operators preview without a study session
    idle = (
        enrolment.programme.profile.idle_timeout_minutes
        if enrolment
        else settings.SESSION_IDLE_TIMEOUT_MINUTES
    )
    marks = course_marks(enrolment, course)
    study = lesson_study(enrolment, lesson)
    context = {
        "course": course,
        "lesson": lesson,
        "outline": outline_marked(course_outline(course), marks),
        "marks": marks,
        "enrolment": enrolment,
        "study": study,
        "study_gap": _gap_text(study),
        "play_from": _("Play from {start}").format(start=clock(study.gap.start)) if _has_gap(study) else "",
        "idle_minutes": idle,
        "has_photo": has_reference_photo(request.user),
        # Identity binding: study waits until the reference photo is approved, where checks while studying are on.
        "photo_hold": reference_photo_hold(request.user)
        if enrolment and settings.FACE_CHECKS_WHILE_STUDYING
        else "",
    }
    return render(request, "learning/lesson.html", context)


def _has_gap(study) -> bool:
    return study is not None and study.gap.start is not None


def _gap_text(study) -> str:
    """LRN-05: what is still to be watched of the lesson and where to play it from, in the player's own words."""
    if study is None or study.gap.start is None or study.credited_seconds <= 0:
        return ""
    return _("{missing} not studied yet: continue playing from {start}.").format(
        missing=clock(math.ceil(study.gap.missing)), start=clock(study.gap.start)
    )


@login_required
def material_view(request: HttpRequest, code: str, material_id: int) -> HttpResponse:
    course = _published_course(code, request.user)
    material = get_object_or_404(CourseMaterial, pk=material_id, course=course)
    if not can_open_course_media(request.user, course):
        return HttpResponseForbidden(_("Course materials are for learners enrolled in the course."))
    return _download(material.file)


@login_required
def lesson_document_view(request: HttpRequest, code: str, lesson_id: int) -> HttpResponse:
    course = _published_course(code, request.user)
    lesson = get_object_or_404(Lesson, pk=lesson_id, chapter__course=course, kind="document")
    if not can_open_course_media(request.user, course):
        return HttpResponseForbidden(_("Course materials are for learners enrolled in the course."))
    return _download(lesson.document)


def _download(field_file) -> FileResponse:
    """Uploaded documents are always downloads, never rendered by the browser on our origin."""
    response = FileResponse(
        field_file.open("rb"), as_attachment=True, filename=field_file.name.rsplit("/", 1)[-1]
    )
    response["Content-Security-Policy"] = "sandbox"
    return response


def _is_local(name: str) -> bool:
    try:
        default_storage.path(name)
    except NotImplementedError:
        return False
    return True


def video_media_view(request: HttpRequest, video_uuid: str, path: str) -> HttpResponse:
    """HLS playlists and segments, from the storage backend, for enrolled learners only (CAT-05).

    Playlists are always streamed from here, so the relative segment URIs in them come back here too; segments on
    S3-compatible storage are redirected to a signed URL that expires within minutes.
    """
    video = get_object_or_404(Video, uuid=video_uuid, status="ready")
    if not can_open_video(request.user, video):
        return HttpResponseForbidden(_("Videos are for signed-in learners enrolled in the course."))
    clean = posixpath.normpath(path)
    if clean.startswith(("..", "/")) or not clean.endswith((".m3u8", ".ts", ".jpg")):
        raise Http404
    name = f"{video.hls_prefix}/{clean}"
    if not default_storage.exists(name):
        raise Http404
    if clean.endswith(".ts") and not _is_local(name):
        return redirect(default_storage.url(name))  # object storage: a signed URL that expires in minutes
    content_type = (
        "application/vnd.apple.mpegurl"
        if clean.endswith(".m3u8")
        else (mimetypes.guess_type(clean)[0] or "application/octet-stream")
    )
    response = FileResponse(default_storage.open(name, "rb"), content_type=content_type)
    response["Cache-Control"] = "private, max-age=300"
    return response


@login_required
def quiz_view(request: HttpRequest, code: str, lesson_id: int) -> HttpResponse:
    """QZ-01 in the browser: start or continue the try, answer within the server's time, see the result."""
    from safetrain.learning.crediting import lesson_and_enrolment
    from safetrain.learning.models import QuizAttempt, QuizQuestion
    from safetrain.learning.quizzes import quiz_start, quiz_submit

    course = _published_course(code, request.user)
    try:
        lesson, enrolment = lesson_and_enrolment(learner=request.user, lesson_id=lesson_id)
        if lesson.chapter.course_id != course.pk:
            raise Http404
        if request.method == "POST":
            attempt = QuizAttempt.objects.filter(pk=request.POST.get("attempt"), enrolment=enrolment).first()
            if attempt is None:
                raise Http404
            answers = {
                key.removeprefix("q"): [int(v) for v in request.POST.getlist(key) if v.isdigit()]
                for key in request.POST
                if key.startswith("q")
            }
            attempt = quiz_submit(learner=request.user, attempt_id=attempt.pk, answers=answers)
            return render(
                request, "learning/quiz_result.html", {"course": course, "lesson": lesson, "attempt": attempt}
            )
        attempt = quiz_start(enrolment=enrolment, lesson=lesson)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("learning:lesson", code=course.code, lesson_id=lesson_id)
    questions = {q.pk: q for q in QuizQuestion.objects.filter(pk__in=attempt.question_ids)}
    return render(
        request,
        "learning/quiz.html",
        {
            "course": course,
            "lesson": lesson,
            "attempt": attempt,
            "questions": [questions[i] for i in attempt.question_ids],
            "seconds_left": max(0, int((attempt.deadline - timezone.now()).total_seconds())),
        },
    )


@staff_required()
def review_queue_view(request: HttpRequest) -> HttpResponse:
    """ANTI-05: operators review learners with suspicious events and dismiss or confirm cheating."""
    from safetrain.learning.models import Enrolment, SuspiciousEvent
    from safetrain.learning.review import review_queue, suspicion_decide

    status = 200
    if request.method == "POST":
        enrolment = Enrolment.objects.filter(pk=request.POST.get("enrolment")).first()
        try:
            if enrolment is None:
                raise DomainError("not_found", _("This enrolment does not exist."))
            review = suspicion_decide(
                enrolment=enrolment,
                decision=request.POST.get("decision", ""),
                reason=request.POST.get("reason", ""),
                reviewer=request.user,
            )
        except DomainError as exc:
            messages.error(request, exc.message)
            status = 400
        else:
            messages.success(request, _("Decision recorded: %(d)s.") % {"d": review.get_decision_display()})
            return redirect("learning:review_queue")
    rows = review_queue()
    evidence = {
        row.enrolment.pk: list(
            SuspiciousEvent.objects.filter(enrolment=row.enrolment, review__isnull=True).order_by("-at")[:20]
        )
        for row in rows[:50]
    }
    return render(
        request, "learning/review_queue.html", {"rows": rows[:50], "evidence": evidence}, status=status
    )
