"""Reads for learners: their programmes and courses, and whether they may open a course's media."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from safetrain.catalog.models import Course, CourseStatus, Lesson, Programme, Video
from safetrain.learning import beats
from safetrain.learning.models import Enrolment, EnrolmentStatus


def courses_of_enrolment(enrolment: Enrolment) -> QuerySet[Course]:
    """The programme's published courses, each annotated with `is_required`, in the programme's order.

    A programme that adds the learner's job-type course (Shenzhen construction, PRG-02) lists the job-type
    courses among its own; the learner gets those of its job type besides the courses for everybody. Management
    posts, a missing job type or one without a course leave the general course only (PRG-03).
    """
    programme = enrolment.programme
    qs = Course.objects.filter(
        programme_courses__programme=programme, status=CourseStatus.PUBLISHED
    ).annotate(is_required=F("programme_courses__is_required"), programme_order=F("programme_courses__order"))
    if programme.includes_job_type_course:
        job_type = enrolment.job_type
        if job_type is None or job_type.is_management:
            qs = qs.filter(job_types__isnull=True)
        else:
            qs = qs.filter(Q(job_types__isnull=True) | Q(job_types=job_type))
    return qs.distinct().order_by("programme_order", "code")


def active_enrolments(learner: Any) -> QuerySet[Enrolment]:
    return (
        Enrolment.objects.active()
        .filter(learner=learner)
        .select_related("programme", "programme__profile", "job_type")
    )


def course_enrolment(learner: Any, course: Course) -> Enrolment | None:
    """The learner's active enrolment that includes this course, if any."""
    if not getattr(learner, "is_authenticated", False):
        return None
    for enrolment in active_enrolments(learner):
        if courses_of_enrolment(enrolment).filter(pk=course.pk).exists():
            return enrolment
    return None


def can_open_course_media(user: Any, course: Course) -> bool:
    """Enrolled learners (active, within the deadline) and operators may open videos and materials."""
    if not getattr(user, "is_authenticated", False):
        return False
    if user.sees_everything():
        return True
    return course_enrolment(user, course) is not None


def _access_key(user: Any, video: Video) -> str:
    # The day and the user's enrolment version are part of the key: a deadline passing at midnight or an enrolment
    # voided or added is never hidden by an earlier answer.
    version = cache.get(f"access-version:{user.pk}", 0)
    return f"video-access:{user.pk}:{version}:{video.pk}:{timezone.localdate().isoformat()}"


def access_changed(user: Any) -> None:
    """Forget the user's cached media-access answers (call when its enrolments change)."""
    key = f"access-version:{user.pk}"
    if not cache.add(key, 1, None):
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, None)


def can_open_video(user: Any, video: Video) -> bool:
    """Checked on every playlist and segment request. A "yes" is cached for a minute (a lesson's segments come
    in quick succession); a "no" never is, so a learner enrolled a moment ago can watch at once."""
    if not getattr(user, "is_authenticated", False):
        return False
    key = _access_key(user, video)
    if cache.get(key):
        return True
    courses = Course.objects.filter(chapters__lessons__video=video).distinct()
    allowed = user.sees_everything() or any(can_open_course_media(user, c) for c in courses)
    if allowed:
        cache.set(key, True, 60)
    return allowed


@dataclass(frozen=True)
class ProgrammeCard:
    enrolment: Enrolment
    programme: Programme
    courses: list[Course]
    required_class_hours: Any
    public_minutes: int
    credited_minutes: float = 0.0
    percent: int = 0
    completed_courses: frozenset[str] = frozenset()


def my_programmes(learner: Any) -> list[ProgrammeCard]:
    """LRN-08: each programme with its courses, required and credited minutes, progress and deadline."""
    overview = {row["id"]: row for row in enrolment_overview(learner)}
    cards = []
    for enrolment in active_enrolments(learner):
        programme = enrolment.programme
        row = overview.get(enrolment.pk, {})
        credited = row.get("credited_minutes", 0.0)
        cards.append(
            ProgrammeCard(
                enrolment=enrolment,
                programme=programme,
                courses=list(courses_of_enrolment(enrolment)),
                required_class_hours=programme.required_class_hours,
                public_minutes=programme.required_public_minutes,
                credited_minutes=credited,
                percent=min(100, int(100 * credited / programme.required_minutes))
                if programme.required_minutes
                else 0,
                completed_courses=frozenset(c["code"] for c in row.get("courses", []) if c["completed"]),
            )
        )
    return cards


def lesson_done(watched: bool, needs_quiz: bool, quiz_passed: bool) -> bool:
    """QZ-01: a lesson counts once watched and, where its course has a quiz bank, its quiz passed."""
    return watched and (not needs_quiz or quiz_passed)


@dataclass(frozen=True)
class CourseState:
    code: str
    title: str
    is_required: bool
    completed: bool


@dataclass(frozen=True)
class Completion:
    """Where one enrolment stands, for the people lists of units (ENT-04, ENT-05)."""

    credited_minutes: float  # all study credited so far, in complete courses or not
    courses: tuple[CourseState, ...]

    @property
    def started(self) -> bool:
        return self.credited_minutes > 0

    @property
    def required_courses(self) -> tuple[CourseState, ...]:
        return tuple(c for c in self.courses if c.is_required)

    @property
    def courses_done(self) -> int:
        return sum(1 for c in self.required_courses if c.completed)

    @property
    def courses_complete(self) -> bool:
        """Every required course complete, as the certificate needs (and at least one course)."""
        return bool(self.required_courses) and all(c.completed for c in self.required_courses)


def completion(enrolments: list[Enrolment]) -> dict[int, Completion]:
    """`enrolment_overview`'s course rule for many enrolments at once, in a handful of queries: the course list
    of each programme and job type is read once, progress and passed quizzes once for all."""
    from safetrain.learning.models import LessonProgress, QuizAttempt, QuizQuestion

    if not enrolments:
        return {}
    ids = [e.pk for e in enrolments]
    quiz_courses = set(
        QuizQuestion.objects.filter(is_active=True).values_list("course_id", flat=True).distinct()
    )
    course_lists: dict[tuple[int, int | None], list[tuple[Course, list[int]]]] = {}
    for enrolment in enrolments:
        key = (enrolment.programme_id, enrolment.job_type_id)
        if key not in course_lists:
            course_lists[key] = [
                (
                    course,
                    [ls.pk for ch in course.chapters.all() for ls in ch.lessons.all() if ls.kind == "video"],
                )
                for course in courses_of_enrolment(enrolment).prefetch_related("chapters__lessons")
            ]
    credited: dict[int, float] = dict.fromkeys(ids, 0.0)
    watched: set[tuple[int, int]] = set()
    for enrolment_id, lesson_id, seconds, completed_at in LessonProgress.objects.filter(
        enrolment_id__in=ids
    ).values_list("enrolment_id", "lesson_id", "credited_seconds", "completed_at"):
        credited[enrolment_id] += seconds
        if completed_at is not None:
            watched.add((enrolment_id, lesson_id))
    passed = set(
        QuizAttempt.objects.filter(enrolment_id__in=ids, passed=True).values_list("enrolment_id", "lesson_id")
    )
    out = {}
    for enrolment in enrolments:
        states = []
        for course, lessons in course_lists[(enrolment.programme_id, enrolment.job_type_id)]:
            needs_quiz = course.pk in quiz_courses
            done = bool(lessons) and all(
                lesson_done((enrolment.pk, lesson) in watched, needs_quiz, (enrolment.pk, lesson) in passed)
                for lesson in lessons
            )
            states.append(CourseState(course.code, course.title, course.is_required, done))
        out[enrolment.pk] = Completion(round(credited[enrolment.pk] / 60, 2), tuple(states))
    return out


def enrolment_overview(learner: Any, enrolments: Any = None) -> list[dict[str, Any]]:
    """Enrolments with courses, lessons and progress (LRN-05, LRN-08): a course counts toward the total only when
    every lesson is complete, and counts once; public-course minutes and distinct study days alongside.
    `enrolments`: these instead of the learner's active ones (a certificate looks back at an expired one)."""
    from safetrain.learning.models import DailyCredit, LessonProgress, QuizAttempt, QuizQuestion

    out = []
    quiz_courses = set(
        QuizQuestion.objects.filter(is_active=True).values_list("course_id", flat=True).distinct()
    )
    for enrolment in active_enrolments(learner) if enrolments is None else enrolments:
        progress = {p.lesson_id: p for p in LessonProgress.objects.filter(enrolment=enrolment)}
        passed = set(
            QuizAttempt.objects.filter(enrolment=enrolment, passed=True).values_list("lesson_id", flat=True)
        )
        courses = []
        total = public = 0.0
        for course in courses_of_enrolment(enrolment).prefetch_related("chapters__lessons__video"):
            lessons = [ls for ch in course.chapters.all() for ls in ch.lessons.all() if ls.kind == "video"]
            rows = []
            for lesson in lessons:
                p = progress.get(lesson.pk)
                needs_quiz = course.pk in quiz_courses
                watched = bool(p and p.completed)
                quiz_passed = lesson.pk in passed
                rows.append(
                    {
                        "id": lesson.pk,
                        "title": lesson.title,
                        "duration_seconds": lesson.duration_seconds,
                        "furthest_position": p.furthest_position if p else 0.0,
                        "credited_minutes": round((p.credited_seconds if p else 0) / 60, 2),
                        "watched": watched,
                        "quiz_required": needs_quiz,
                        "quiz_passed": quiz_passed,
                        "completed": lesson_done(watched, needs_quiz, quiz_passed),
                    }
                )
            credited = sum(r["credited_minutes"] for r in rows)
            completed = bool(rows) and all(r["completed"] for r in rows)
            if completed:
                total += credited
                public += credited if course.is_public else 0
            courses.append(
                {
                    "code": course.code,
                    "title": course.title,
                    "is_public": course.is_public,
                    "is_required": course.is_required,
                    "credited_minutes": round(credited, 2),
                    "duration_seconds": sum(r["duration_seconds"] or 0 for r in rows),
                    "completed": completed,
                    "lessons": rows,
                }
            )
        programme = enrolment.programme
        required = programme.required_minutes
        if programme.includes_job_type_course:
            # PRG-02/PRG-03: the worker's own courses (general + own job type; the general one alone for managers
            # and job types without a course) are what must be studied, however long the longest job-type course.
            own = sum(c["duration_seconds"] for c in courses if c["is_required"])
            required = min(required, math.floor(own / 60))
        out.append(
            {
                "id": enrolment.pk,
                "programme_code": programme.code,
                "programme_name": programme.name,
                "deadline": enrolment.deadline.isoformat() if enrolment.deadline else None,
                "required_minutes": required,
                "required_public_minutes": programme.required_public_minutes,
                "class_hour_minutes": programme.setting("class_hour_minutes"),
                "credited_minutes": round(total, 2),
                "public_minutes": round(public, 2),
                "study_days": DailyCredit.objects.filter(
                    enrolment=enrolment, seconds__gt=F("cancelled_seconds")
                ).count(),
                "courses": courses,
            }
        )
    return out


@dataclass(frozen=True)
class EnrolmentStanding:
    """Where one enrolment stands against its programme's study requirements (LRN-05, LRN-06): the totals of its
    `enrolment_overview` row, read from that enrolment's own rows only."""

    active: bool  # studying and within the deadline
    required_minutes: int
    credited_minutes: float  # in complete courses only
    required_public_minutes: int
    public_minutes: float
    study_days: int
    unfinished_required_courses: tuple[str, ...] = ()  # titles, in the programme's order
    quizzes_waiting: tuple[str, ...] = ()  # lessons watched whose quiz is not passed yet


def enrolment_standing(enrolment: Enrolment) -> EnrolmentStanding:
    """`enrolment_overview`'s totals for one enrolment (the same arithmetic, so the same results) in six small
    queries: its courses, their video lessons, its progress, its passed quizzes, the quiz banks, its study days.
    Nothing of the learner's other enrolments is read (an exam start needs only this)."""
    from safetrain.learning.models import DailyCredit, LessonProgress, QuizAttempt, QuizQuestion

    programme = enrolment.programme
    active = enrolment.status == EnrolmentStatus.ACTIVE and (
        enrolment.deadline is None or enrolment.deadline >= timezone.localdate()
    )
    courses = list(courses_of_enrolment(enrolment).values_list("pk", "title", "is_public", "is_required"))
    ids = [c[0] for c in courses]
    lessons: dict[int, list[tuple[int, str, float]]] = {pk: [] for pk in ids}
    for course_id, lesson_id, title, duration in (
        Lesson.objects.filter(chapter__course_id__in=ids, kind="video")
        .order_by("chapter__order", "chapter_id", "order", "pk")
        .values_list("chapter__course_id", "pk", "title", "video__duration_seconds")
    ):
        lessons[course_id].append((lesson_id, title, duration or 0))
    progress = {
        lesson_id: (seconds, completed_at is not None)
        for lesson_id, seconds, completed_at in LessonProgress.objects.filter(
            enrolment=enrolment
        ).values_list("lesson_id", "credited_seconds", "completed_at")
    }
    passed = set(
        QuizAttempt.objects.filter(enrolment=enrolment, passed=True).values_list("lesson_id", flat=True)
    )
    quiz_courses = set(
        QuizQuestion.objects.filter(is_active=True, course_id__in=ids).values_list("course_id", flat=True)
    )
    total = public = 0.0
    own_seconds = 0.0
    unfinished, waiting = [], []
    for course_id, title, is_public, is_required in courses:
        needs_quiz = course_id in quiz_courses
        credited, completed = 0.0, bool(lessons[course_id])
        for lesson_id, lesson_title, _duration in lessons[course_id]:
            seconds, watched = progress.get(lesson_id, (0, False))
            quiz_passed = lesson_id in passed
            credited += round(seconds / 60, 2)  # (per lesson, as the overview rounds it)
            completed = completed and lesson_done(watched, needs_quiz, quiz_passed)
            if watched and needs_quiz and not quiz_passed:
                waiting.append(lesson_title)
        if completed:
            total += credited
            public += credited if is_public else 0
        if is_required:
            own_seconds += sum(lesson[2] for lesson in lessons[course_id])
            if not completed:
                unfinished.append(title)
    required = programme.required_minutes
    if programme.includes_job_type_course:
        required = min(required, math.floor(own_seconds / 60))
    return EnrolmentStanding(
        active=active,
        required_minutes=required,
        credited_minutes=round(total, 2),
        required_public_minutes=programme.required_public_minutes,
        public_minutes=round(public, 2),
        study_days=DailyCredit.objects.filter(
            enrolment=enrolment, seconds__gt=F("cancelled_seconds")
        ).count(),
        unfinished_required_courses=tuple(unfinished),
        quizzes_waiting=tuple(waiting),
    )


@dataclass(frozen=True)
class LessonGap:
    """What is still to be watched of one video lesson (LRN-01, LRN-05): `missing` seconds unwatched, the first of
    them at `start` (None once the lesson counts as watched)."""

    missing: float
    start: float | None


def lesson_gap(watched: list[list[float]], duration: float, completed: bool) -> LessonGap:
    return LessonGap(*beats.lesson_gap(watched, duration, completed, settings.COMPLETION_TOLERANCE_SECONDS))


def resume_position(watched: list[list[float]], duration: float, completed: bool, last: float) -> float:
    """Where a study page starts playing (LRN-03): where the learner stopped, or, when nothing there is still to be
    watched, at the first part not yet watched; a finished lesson watched to its end starts again from the top."""
    from safetrain.learning import intervals

    if not completed and duration > 0:
        floor = max(0.0, duration - settings.COMPLETION_TOLERANCE_SECONDS)
        ahead = intervals.first_gap(watched, min(last, floor), floor)
        start = ahead if ahead is not None else intervals.first_gap(watched, 0.0, floor)
        if start is not None:
            return start
    return last if last < duration - settings.COMPLETION_TOLERANCE_SECONDS else 0.0


@dataclass(frozen=True)
class LessonMark:
    percent: int
    done: bool


def _percent(part: float, whole: float) -> int:
    return min(100, int(100 * part / whole)) if whole > 0 else 0


def course_marks(enrolment: Enrolment | None, course: Course) -> dict[str, Any]:
    """Ticks and percentages of one course's outline for one enrolment (LRN-08): per video lesson the share watched
    and whether it counts (watched and, where the course has a quiz bank, its quiz passed), and the same for the
    whole course. {} without an enrolment."""
    from safetrain.learning import intervals
    from safetrain.learning.models import LessonProgress, QuizAttempt, QuizQuestion

    if enrolment is None:
        return {}
    progress = {
        p.lesson_id: p
        for p in LessonProgress.objects.filter(enrolment=enrolment, lesson__chapter__course=course)
    }
    passed = set(
        QuizAttempt.objects.filter(
            enrolment=enrolment, passed=True, lesson__chapter__course=course
        ).values_list("lesson_id", flat=True)
    )
    needs_quiz = QuizQuestion.objects.filter(course=course, is_active=True).exists()
    marks: dict[int, LessonMark] = {}
    seen = total = 0.0
    for chapter in course.chapters.prefetch_related("lessons__video"):
        for lesson in chapter.lessons.all():
            if lesson.kind != "video":
                continue
            duration = lesson.duration_seconds or 0.0
            p = progress.get(lesson.pk)
            covered = min(duration, intervals.total(p.watched)) if p else 0.0
            watched = bool(p and p.completed)
            marks[lesson.pk] = LessonMark(
                100 if watched else _percent(covered, duration),
                lesson_done(watched, needs_quiz, lesson.pk in passed),
            )
            seen += duration if watched else covered
            total += duration
    return {
        "lessons": marks,
        "percent": _percent(seen, total),
        "done": bool(marks) and all(m.done for m in marks.values()),
    }


@dataclass(frozen=True)
class LessonStudy:
    """One video lesson for its study page (LRN-05): credited so far, whether it counts as watched, what is left."""

    credited_seconds: float
    duration: float
    completed: bool  # the video counts as watched
    gap: LessonGap
    # QZ-01: the course has a quiz bank and this lesson's quiz is not passed yet: a watched video does not make
    # the lesson complete, the page says to take the quiz.
    quiz_pending: bool = False


def lesson_study(enrolment: Enrolment | None, lesson: Any) -> LessonStudy | None:
    from safetrain.learning.models import LessonProgress
    from safetrain.learning.quizzes import quiz_passed, quiz_required

    if enrolment is None or lesson.kind != "video":
        return None
    progress = LessonProgress.objects.filter(enrolment=enrolment, lesson=lesson).first()
    duration = lesson.duration_seconds
    pending = quiz_required(lesson) and not quiz_passed(enrolment.pk, lesson.pk)
    if progress is None:
        return LessonStudy(0.0, duration, False, LessonGap(duration, None), pending)
    return LessonStudy(
        progress.credited_seconds,
        duration,
        progress.completed,
        lesson_gap(progress.watched, duration, progress.completed),
        pending,
    )


def outline_marked(outline: list[Any], marks: dict[str, Any]) -> list[Any]:
    """The course outline with each video lesson's tick and percentage attached as `lesson.mark`."""
    lessons = marks.get("lessons", {})
    for chapter in outline:
        for lesson in chapter.lessons.all():
            lesson.mark = lessons.get(lesson.pk)
    return outline
