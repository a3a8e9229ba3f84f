"""Catalogue writes: courses and their content, the video pipeline, ratings and Q&A, programmes and offline
sessions (CAT-01..08, PRG-01..04). Every write is audited."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import tempfile
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from safetrain.catalog import transcode
from safetrain.catalog.models import (
    Audience,
    Chapter,
    ConstructionCategory,
    Course,
    CourseMaterial,
    CourseQuestion,
    CourseRating,
    CourseStatus,
    DeadlineKind,
    JobType,
    LegalBasis,
    LegalBasisKind,
    Lesson,
    LessonKind,
    OfflineAttendance,
    OfflinePhoto,
    OfflinePhotoKind,
    OfflineSession,
    Programme,
    ProgrammeCourse,
    ProgrammeKind,
    QualificationItem,
    RegionProfile,
    Teacher,
    Video,
    VideoStatus,
)
from safetrain.catalog.models.programmes import OVERRIDABLE, parse_fraction
from safetrain.catalog.models.videos import video_problem
from safetrain.core.errors import DomainError
from safetrain.core.resend import jobs_resend
from safetrain.orgs.models import Organisation
from safetrain.records.services import audit_log

logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS = {"mp4", "m4v", "mov", "avi", "mkv", "webm", "flv", "wmv", "mpg", "mpeg", "ts", "3gp"}
MATERIAL_EXTENSIONS = {
    "pdf",
    "zip",
    "rar",
    "7z",
    "doc",
    "docx",
    "xls",
    "xlsx",
    "ppt",
    "pptx",
    "txt",
    "jpg",
    "png",
}


# Courses ---------------------------------------------------------------------------------------------------


@transaction.atomic
def course_create(
    *,
    code: str,
    title: str,
    introduction: str = "",
    is_public: bool = False,
    construction_category: str = "",
    is_study_only: bool | None = None,
    teachers: Iterable[Teacher] = (),
    qualification_items: Iterable[QualificationItem] = (),
    job_types: Iterable[JobType] = (),
) -> Course:
    code, title = (code or "").strip(), (title or "").strip()
    if not code or not title:
        raise DomainError("course_fields_required", _("A course needs a code and a title."))
    if Course.objects.filter(code=code).exists():
        raise DomainError(
            "duplicate_course_code", _("The course code %(code)s is taken.") % {"code": code}, field="code"
        )
    if construction_category and construction_category not in ConstructionCategory.values:
        raise DomainError(
            "invalid_category", _("Unknown construction course category."), field="construction_category"
        )
    if (
        is_study_only is None
    ):  # hazardous sub-project courses are studied and recorded, never examined (CAT-01)
        is_study_only = construction_category == ConstructionCategory.HAZARDOUS_WORKS
    course = Course.objects.create(
        code=code,
        title=title,
        introduction=introduction,
        is_public=is_public,
        construction_category=construction_category,
        is_study_only=is_study_only,
    )
    course.teachers.set(teachers)
    course.qualification_items.set(qualification_items)
    course.job_types.set(job_types)
    audit_log(action="course.create", obj=course, detail={"code": code})
    return course


@transaction.atomic
def course_update(course: Course, **fields: Any) -> Course:
    allowed = {"title", "introduction", "is_public", "construction_category", "is_study_only"}
    unknown = set(fields) - allowed
    if unknown:
        raise DomainError(
            "invalid_fields", _("These fields cannot be changed here: %(f)s") % {"f": ", ".join(unknown)}
        )
    for name, value in fields.items():
        setattr(course, name, value)
    course.save()
    audit_log(action="course.update", obj=course, detail={"fields": sorted(fields)})
    return course


@transaction.atomic
def course_publish(*, course: Course) -> Course:
    lessons = list(course.lessons().select_related("video"))
    if not lessons:
        raise DomainError("course_empty", _("A course needs at least one lesson before it is published."))
    if any(lesson.kind == LessonKind.VIDEO and not lesson.video.is_ready for lesson in lessons):
        raise DomainError(
            "video_not_ready", _("Every video of the course must be transcoded before publishing.")
        )
    course.status = CourseStatus.PUBLISHED
    course.save(update_fields=["status", "updated_at"])
    audit_log(action="course.publish", obj=course)
    return course


@transaction.atomic
def course_withdraw(*, course: Course, reason: str) -> Course:
    course.status = CourseStatus.WITHDRAWN
    course.save(update_fields=["status", "updated_at"])
    audit_log(action="course.withdraw", obj=course, detail={"reason": reason[:200]})
    return course


@transaction.atomic
def chapter_add(*, course: Course, title: str) -> Chapter:
    if not (title or "").strip():
        raise DomainError("title_required", _("Give the chapter a title."), field="title")
    order = course.chapters.count() + 1
    chapter = Chapter.objects.create(course=course, title=title.strip(), order=order)
    audit_log(action="course.chapter_add", obj=chapter, detail={"course": course.pk})
    return chapter


@transaction.atomic
def lesson_add(
    *, chapter: Chapter, title: str, video: Video | None = None, document: UploadedFile | None = None
) -> Lesson:
    """A video lesson takes its duration from the transcoded file (never typed in); or a document lesson."""
    if (video is None) == (document is None):
        raise DomainError("lesson_content", _("A lesson is either one video or one document."))
    if video is not None and not video.is_ready:
        raise DomainError(
            "video_not_ready",
            _("The video %(t)s is not transcoded yet (status: %(s)s).")
            % {"t": video.title, "s": video.get_status_display()},
            field="video",
        )
    lesson = Lesson(
        chapter=chapter,
        title=(title or "").strip() or (video.title if video else ""),
        order=chapter.lessons.count() + 1,
        kind=LessonKind.VIDEO if video else LessonKind.DOCUMENT,
        video=video,
    )
    if document is not None:
        check_download_file(document)
        lesson.document.save(document.name, document, save=False)
    lesson.save()
    audit_log(
        action="course.lesson_add",
        obj=lesson,
        detail={"chapter": chapter.pk, "video": getattr(video, "pk", None)},
    )
    return lesson


def _extension(name: str) -> str:
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def check_download_file(file: UploadedFile) -> None:
    """Materials and lesson documents: office, PDF, text, image or archive files within the size limit (never
    HTML or SVG, which a browser would run)."""
    if _extension(file.name) not in MATERIAL_EXTENSIONS:
        raise DomainError(
            "material_type",
            _("Materials may be PDF, Office, text, image or archive files (%(ext)s).")
            % {"ext": ", ".join(sorted(MATERIAL_EXTENSIONS))},
            field="file",
        )
    if file.size > settings.MATERIAL_MAX_UPLOAD_MB * 1024 * 1024:
        raise DomainError(
            "material_too_large",
            _("A material may be at most %(mb)d MB.") % {"mb": settings.MATERIAL_MAX_UPLOAD_MB},
            field="file",
        )


@transaction.atomic
def material_add(*, course: Course, title: str, file: UploadedFile) -> CourseMaterial:
    check_download_file(file)
    material = CourseMaterial(course=course, title=(title or file.name).strip(), size=file.size)
    material.file.save(file.name, file, save=False)
    try:
        with transaction.atomic():
            material.save()
            audit_log(action="course.material_add", obj=material, detail={"course": course.pk})
    except Exception:
        material.file.storage.delete(material.file.name)
        raise
    return material


# Review cycle (CAT-07) -------------------------------------------------------------------------------------------


@transaction.atomic
def legal_basis_add(
    *, course: Course, title: str, kind: str, effective_date: dt.date, document_no: str = ""
) -> LegalBasis:
    if kind not in LegalBasisKind.values:
        raise DomainError("invalid_kind", _("A legal basis is a law or a standard."), field="kind")
    basis = LegalBasis.objects.create(
        course=course, title=title, kind=kind, effective_date=effective_date, document_no=document_no
    )
    audit_log(action="course.legal_basis_add", obj=basis, detail={"course": course.pk, "kind": kind})
    return basis


@transaction.atomic
def legal_basis_changed(*, basis: LegalBasis, changed_on: dt.date) -> LegalBasis:
    """A law or standard the course rests on changed: the course is due for update (2 / 3 months).

    A later change does not move the due date of an earlier change the course has not been reviewed for yet."""
    reviewed = basis.course.reviewed_on
    pending = basis.changed_on is not None and (reviewed is None or basis.changed_on > reviewed)
    if pending and basis.changed_on <= changed_on:
        audit_log(
            action="course.legal_basis_changed",
            obj=basis,
            detail={"course": basis.course_id, "changed_on": changed_on.isoformat(), "due_kept": True},
        )
        return basis
    basis.changed_on = changed_on
    basis.save(update_fields=["changed_on"])
    audit_log(
        action="course.legal_basis_changed",
        obj=basis,
        detail={"course": basis.course_id, "changed_on": changed_on.isoformat()},
    )
    return basis


@transaction.atomic
def course_mark_reviewed(*, course: Course, on: dt.date | None = None) -> Course:
    course.reviewed_on = on or timezone.localdate()
    course.save(update_fields=["reviewed_on", "updated_at"])
    audit_log(action="course.reviewed", obj=course, detail={"on": course.reviewed_on.isoformat()})
    return course


# Ratings and Q&A (CAT-08) -----------------------------------------------------------------------------------------


@transaction.atomic
def rating_set(*, course: Course, learner: Any, stars: int, comment: str = "") -> CourseRating:
    if not isinstance(stars, int) or not 1 <= stars <= 5:
        raise DomainError("invalid_stars", _("Rate the course with 1 to 5 stars."), field="stars")
    if len(comment) > 1000:
        raise DomainError(
            "comment_too_long", _("A comment may have at most 1000 characters."), field="comment"
        )
    rating, _created = CourseRating.objects.update_or_create(
        course=course, learner=learner, defaults={"stars": stars, "comment": comment.strip()}
    )
    audit_log(action="course.rate", obj=course, detail={"stars": stars})
    return rating


@transaction.atomic
def question_ask(*, course: Course, asker: Any, text: str) -> CourseQuestion:
    text = (text or "").strip()
    if not text or len(text) > 2000:
        raise DomainError("question_text", _("Write your question (at most 2000 characters)."), field="text")
    question = CourseQuestion.objects.create(course=course, asker=asker, text=text)
    audit_log(action="course.question", obj=question, detail={"course": course.pk})
    return question


@transaction.atomic
def question_answer(*, question: CourseQuestion, answer: str, answered_by: Any) -> CourseQuestion:
    answer = (answer or "").strip()
    if not answer:
        raise DomainError("answer_required", _("Write the answer."), field="answer")
    question.answer, question.answered_by, question.answered_at = answer, answered_by, timezone.now()
    question.save(update_fields=["answer", "answered_by", "answered_at"])
    audit_log(action="course.answer", obj=question, detail={"course": question.course_id})
    return question


# Video pipeline (CAT-05) -------------------------------------------------------------------------------------------


def _local_copy(file: UploadedFile, workdir: Path) -> Path:
    path = getattr(file, "temporary_file_path", None)
    if path:
        return Path(path())
    target = workdir / f"upload.{_extension(file.name) or 'bin'}"
    with open(target, "wb") as out:
        for chunk in file.chunks():
            out.write(chunk)
    file.seek(0)
    return target


def video_upload(*, file: UploadedFile, title: str, uploaded_by: Any = None) -> Video:
    """Check the upload really is a video (ffprobe) before anything is stored, then queue the transcoding.

    A non-video or broken file is refused with the reason and leaves nothing behind.
    """
    title = (title or "").strip() or file.name.rsplit(".", 1)[0]
    if _extension(file.name) not in VIDEO_EXTENSIONS:
        raise DomainError(
            "video_type",
            _("“%(name)s” is not a video file. Upload MP4, MOV, AVI, MKV, WEBM, FLV, WMV or MPEG.")
            % {"name": file.name},
            field="file",
        )
    if file.size > settings.VIDEO_MAX_UPLOAD_MB * 1024 * 1024:
        raise DomainError(
            "video_too_large",
            _("A video may be at most %(mb)d MB.") % {"mb": settings.VIDEO_MAX_UPLOAD_MB},
            field="file",
        )
    with tempfile.TemporaryDirectory(prefix="safetrain-upload-") as tmp:
        try:
            info = transcode.probe(_local_copy(file, Path(tmp)))
        except transcode.TranscodeError as exc:
            logger.info("upload %s refused: %s", file.name, exc)
            raise DomainError(
                "video_unreadable",
                _("“%(name)s” cannot be used. %(problem)s")
                % {"name": file.name, "problem": video_problem(str(exc))},
                field="file",
            ) from exc
    video = Video(
        title=title[:200],
        original_name=file.name[:200],
        uploaded_by=uploaded_by,
        duration_seconds=info.duration,
        width=info.width,
        height=info.height,
    )
    try:
        with transaction.atomic():
            video.original.save(file.name, file, save=False)
            video.save()
            audit_log(action="video.upload", obj=video, detail={"name": file.name[:100], "size": file.size})
            from safetrain.catalog.tasks import transcode_video

            transaction.on_commit(lambda: transcode_video.delay(video.pk))
    except Exception:
        if video.original.name:
            video.original.storage.delete(video.original.name)  # nothing half-made stays behind
        raise
    return video


def _set_progress(video_id: int, fraction: float, last: list[int]) -> None:
    percent = min(99, int(fraction * 100))
    if percent >= last[0] + 2:
        last[0] = percent
        Video.objects.filter(pk=video_id, status=VideoStatus.PROCESSING).update(progress=percent)


def _claim(video_id: int) -> bool:
    """Take a queued video for transcoding; False when another worker has it (or it is done)."""
    return bool(
        Video.objects.filter(pk=video_id, status=VideoStatus.QUEUED).update(
            status=VideoStatus.PROCESSING, progress=0, error="", started_at=timezone.now()
        )
    )


def video_transcode(*, video_id: int) -> Video:
    """Transcode to the 流畅 / 标清 / 高清 HLS renditions the source allows (never upscaled), with a master playlist
    carrying measured bandwidths, and a poster; store them under a fresh folder and switch the video to it.

    Only the worker that claims the queued video runs; on failure every stored output is removed and the video is
    marked failed with the reason (the original stays for a retry).
    """
    if not _claim(video_id):
        return Video.objects.get(pk=video_id)
    video = Video.objects.get(pk=video_id)
    prefix = f"videos/hls/{video.uuid}/{uuid.uuid4().hex[:8]}"  # one folder per attempt: no collisions
    stored: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="safetrain-hls-") as tmp:
            work = Path(tmp)
            source = work / f"source.{_extension(video.original.name) or 'mp4'}"
            with video.original.open("rb") as src, open(source, "wb") as dst:
                shutil.copyfileobj(src, dst, 1024 * 1024)
            info = transcode.probe(source)
            out = work / "hls"
            renditions = transcode.renditions_for(info)
            done = []
            last = [0]
            for index, rendition in enumerate(renditions):
                transcode.hls_rendition(
                    source,
                    out / rendition.name,
                    rendition,
                    info,
                    on_progress=lambda f, i=index: _set_progress(video_id, (i + f) / len(renditions), last),
                )
                produced = transcode.probe(out / rendition.name / "index.m3u8", playlist=True)
                peak, average = transcode.measured_bandwidth(out / rendition.name)
                done.append((rendition, produced.width, produced.height, peak, average))
            (out / "master.m3u8").write_text(
                transcode.master_playlist(done, info.has_audio), encoding="utf-8"
            )
            transcode.poster(source, out / "poster.jpg", info)
            for path in sorted(out.rglob("*")):
                if path.is_file():
                    name = f"{prefix}/{path.relative_to(out).as_posix()}"
                    with open(path, "rb") as fh:
                        stored.append(default_storage.save(name, File(fh)))
        summary = [
            {
                "name": r.name,
                "label": r.label,
                "height": h,
                "width": w,
                "bandwidth": peak,
                "average_bandwidth": avg,
                "playlist": f"{r.name}/index.m3u8",
            }
            for r, w, h, peak, avg in done
        ]
        with transaction.atomic():
            updated = Video.objects.filter(pk=video_id, status=VideoStatus.PROCESSING).update(
                status=VideoStatus.READY,
                progress=100,
                duration_seconds=info.duration,
                width=info.width,
                height=info.height,
                hls_prefix=prefix,
                poster=f"{prefix}/poster.jpg",
                renditions=summary,
                finished_at=timezone.now(),
                error="",
            )
            if not updated:
                raise transcode.TranscodeError("the video was taken over by another attempt")
            audit_log(
                action="video.transcode",
                object_type="catalog.video",
                object_id=video_id,
                detail={"renditions": [r["name"] for r in summary], "duration": round(info.duration, 2)},
            )
    except Exception as exc:  # any failure: remove what was stored, say why, keep the original for a retry
        for name in stored:
            default_storage.delete(name)
        reason = str(exc) if isinstance(exc, transcode.TranscodeError) else f"{exc.__class__.__name__}: {exc}"
        logger.warning("transcoding video %s failed: %s", video_id, reason)
        with transaction.atomic():
            Video.objects.filter(pk=video_id, status=VideoStatus.PROCESSING).update(
                status=VideoStatus.FAILED, error=reason[:2000], finished_at=timezone.now()
            )
            audit_log(
                action="video.transcode",
                result="failure",
                object_type="catalog.video",
                object_id=video_id,
                detail={"reason": reason[:200]},
            )
    return Video.objects.get(pk=video_id)


def videos_requeue_waiting(*, older_than: dt.timedelta) -> int:
    """Send the transcoding task again for videos waiting longer than `older_than` (a message the broker lost);
    each video is transcoded once however many messages arrive (video_transcode claims it)."""
    from safetrain.catalog.tasks import transcode_video

    waiting = Video.objects.filter(status=VideoStatus.QUEUED)
    return jobs_resend(waiting=waiting, task=transcode_video, kind="video", older_than=older_than)


def video_retry(*, video: Video) -> Video:
    """Queue a failed video again, or one stuck in transcoding past the time limit (a killed worker)."""
    stale = timezone.now() - dt.timedelta(seconds=settings.TRANSCODE_TIME_LIMIT_SECONDS)
    claimed = (
        Video.objects.filter(pk=video.pk)
        .filter(Q(status=VideoStatus.FAILED) | Q(status=VideoStatus.PROCESSING, started_at__lt=stale))
        .update(status=VideoStatus.QUEUED, progress=0, error="")
    )
    if not claimed:
        raise DomainError("not_failed", _("Only a failed video can be transcoded again."))
    from safetrain.catalog.tasks import transcode_video

    transaction.on_commit(lambda: transcode_video.delay(video.pk))
    return Video.objects.get(pk=video.pk)


# Programmes (PRG-01..04) -----------------------------------------------------------------------------------------

# PRG-02 / NAT-02: class hours of principal persons and safety managers.
HOUR_PRESETS: dict[tuple[bool, str], int] = {
    (False, ProgrammeKind.INITIAL): 32,
    (False, ProgrammeKind.REFRESHER): 12,
    (True, ProgrammeKind.INITIAL): 48,
    (True, ProgrammeKind.REFRESHER): 16,
}


def preset_class_hours(*, audience: str, kind: str, high_risk: bool) -> int | None:
    if audience in {Audience.PRINCIPAL_AND_SAFETY_MANAGER, Audience.PRINCIPAL, Audience.SAFETY_MANAGER}:
        return HOUR_PRESETS.get((high_risk, kind))
    return None


@transaction.atomic
def programme_create(
    *,
    code: str,
    name: str,
    profile: RegionProfile,
    kind: str,
    audience: str,
    required_minutes: int | None = None,
    required_public_minutes: int = 0,
    industry: str = "",
    high_risk: bool | None = None,
    qualification_item: QualificationItem | None = None,
    includes_job_type_course: bool = False,
    deadline_kind: str | None = None,
    deadline_date: dt.date | None = None,
    deadline_days: int | None = None,
    exam_rule: str = "",
    self_enrolment: bool = False,
    **overrides: Any,
) -> Programme:
    """Create a programme. Without `required_minutes`, the national hour presets apply (PRG-02): class hours x the
    profile's (or overridden) class-hour length."""
    if kind not in ProgrammeKind.values or audience not in Audience.values:
        raise DomainError("invalid_programme", _("Choose the programme's kind and audience."))
    if Programme.objects.filter(code=code).exists():
        raise DomainError(
            "duplicate_programme_code",
            _("The programme code %(code)s is taken.") % {"code": code},
            field="code",
        )
    deadline_kind_default = deadline_kind is None
    deadline_kind = deadline_kind or DeadlineKind.NONE
    class_minutes = overrides.get("class_hour_minutes") or profile.class_hour_minutes
    if required_minutes is None:
        hours = preset_class_hours(audience=audience, kind=kind, high_risk=bool(high_risk))
        if hours is None:
            raise DomainError(
                "minutes_required",
                _("This audience has no hour preset: give the required minutes."),
                field="required_minutes",
            )
        required_minutes = hours * class_minutes
    if required_public_minutes > required_minutes:
        raise DomainError(
            "public_exceeds_total",
            _("Public-course minutes cannot exceed the total."),
            field="required_public_minutes",
        )
    if deadline_kind == "fixed" and deadline_date is None:
        raise DomainError("deadline_date_required", _("Give the deadline date."), field="deadline_date")
    unknown = set(overrides) - set(OVERRIDABLE)
    if unknown:
        raise DomainError(
            "invalid_fields", _("These fields cannot be set here: %(f)s") % {"f": ", ".join(sorted(unknown))}
        )
    if overrides.get("offline_min_fraction"):
        try:
            parse_fraction(overrides["offline_min_fraction"])
        except ValidationError as exc:
            raise DomainError("invalid_share", exc.messages[0], field="offline_min_fraction") from exc
    if deadline_kind == DeadlineKind.NONE and profile.deadline_days and deadline_kind_default:
        # The region's rule applies unless the programme says otherwise (Guangdong: 30 days after opening).
        deadline_kind = DeadlineKind.AFTER_OPENING
    programme = Programme.objects.create(
        code=code,
        name=name,
        profile=profile,
        kind=kind,
        audience=audience,
        required_minutes=required_minutes,
        required_public_minutes=required_public_minutes,
        industry=industry,
        high_risk=high_risk,
        qualification_item=qualification_item,
        includes_job_type_course=includes_job_type_course,
        deadline_kind=deadline_kind,
        deadline_date=deadline_date,
        deadline_days=deadline_days,
        exam_rule=exam_rule,
        self_enrolment=self_enrolment,
        **{k: v for k, v in overrides.items() if v is not None},
    )
    audit_log(action="programme.create", obj=programme, detail={"code": code, "minutes": required_minutes})
    return programme


@transaction.atomic
def programme_course_add(
    *, programme: Programme, course: Course, is_required: bool = True
) -> ProgrammeCourse:
    link, created = ProgrammeCourse.objects.get_or_create(
        programme=programme,
        course=course,
        defaults={"is_required": is_required, "order": programme.programme_courses.count() + 1},
    )
    if created:
        audit_log(
            action="programme.course_add",
            obj=programme,
            detail={"course": course.pk, "required": is_required},
        )
    return link


@transaction.atomic
def programme_publish(*, programme: Programme) -> Programme:
    if not programme.programme_courses.exists() and not programme.includes_job_type_course:
        raise DomainError("programme_empty", _("Add the programme's courses before publishing it."))
    programme.is_published = True
    programme.save(update_fields=["is_published"])
    audit_log(action="programme.publish", obj=programme)
    return programme


@transaction.atomic
def offline_session_record(
    *,
    programme: Programme,
    organisation: Organisation,
    date: dt.date,
    place: str,
    teacher: str,
    content: str,
    minutes: int,
    learners: Iterable[Any] = (),
    absent: Iterable[Any] = (),
    photos: Iterable[UploadedFile] = (),
    sheet: UploadedFile | None = None,
    actor: Any = None,
) -> OfflineSession:
    """Record an offline session (PRG-04): date, place, teacher, content, minutes, attendance and photos."""
    if minutes <= 0 or minutes > 24 * 60:
        raise DomainError(
            "invalid_minutes", _("Give the session's length in minutes (1 to 1440)."), field="minutes"
        )
    if date > timezone.localdate():
        raise DomainError(
            "future_session", _("An offline session is recorded after it took place."), field="date"
        )
    for name, value in (("place", place), ("teacher", teacher), ("content", content)):
        if not (value or "").strip():
            raise DomainError("field_required", _("Fill in the place, teacher and content."), field=name)
    session = OfflineSession.objects.create(
        programme=programme,
        organisation=organisation,
        date=date,
        place=place.strip(),
        teacher=teacher.strip(),
        content=content.strip(),
        minutes=minutes,
        created_by=actor,
    )
    OfflineAttendance.objects.bulk_create(
        [OfflineAttendance(session=session, learner=u, present=True) for u in learners]
        + [OfflineAttendance(session=session, learner=u, present=False) for u in absent]
    )
    uploads = [(OfflinePhotoKind.SHEET, sheet)] if sheet else []
    uploads += [(OfflinePhotoKind.FACES, photo) for photo in photos]
    for kind, photo in uploads:
        item = OfflinePhoto(session=session, kind=kind)
        item.image.save(photo.name, photo, save=False)
        item.save()
    audit_log(
        action="programme.offline_session",
        obj=session,
        organisation_id=organisation.pk,
        detail={
            "programme": programme.pk,
            "minutes": minutes,
            "present": session.attendance.filter(present=True).count(),
        },
    )
    return session
