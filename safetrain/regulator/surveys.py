"""The annual satisfaction survey (满意度调查, REG-04; S3 十七).

Every learner who was enrolled that year and has something to rate is invited once. A question is about the platform, about the training
institution that trained them (the enrolling institution, or the organiser of the call they applied through), or
about each course they studied that year; every mark is 1 (very dissatisfied) to 5 (very satisfied), and 4 or 5
counts as satisfied. The results give, per platform, institution and course, the responses, the mean mark and
the satisfaction rate (share of satisfied marks), flagged under 80 %; and the response rate of the invited.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from safetrain.catalog.models import Course
from safetrain.core.errors import DomainError
from safetrain.learning.models import Enrolment, EnrolmentStatus, LessonProgress
from safetrain.orgs.models import Organisation, OrganisationKind
from safetrain.records.services import audit_log
from safetrain.regulator.models import Survey, SurveyAnswer, SurveyResponse, SurveyTarget

SATISFIED_FROM = 4
FLAG_BELOW_PERCENT = 80


def _year_enrolments(survey: Survey) -> QuerySet[Enrolment]:
    return Enrolment.objects.filter(opened_on__year=survey.year).exclude(status=EnrolmentStatus.VOID)


def invited_enrolments(survey: Survey, scope: QuerySet[Organisation] | None = None) -> QuerySet[Enrolment]:
    """The enrolments that invite their learner: of the survey's year, in the scope's units if given, and with
    something to rate (a platform question rates every one; otherwise an institution that trained them or a
    course they studied must be there for the survey's questions)."""
    from safetrain.enterprise.models import ApplicationTrainee

    qs = _year_enrolments(survey)
    if scope is not None:
        qs = qs.filter(organisation__in=scope)
    targets = set(survey.questions.values_list("target", flat=True))
    if SurveyTarget.PLATFORM in targets:
        return qs
    condition = Q(pk__in=[])
    if SurveyTarget.INSTITUTION in targets:
        condition |= Q(organisation__kind=OrganisationKind.INSTITUTION) | Q(
            pk__in=ApplicationTrainee.objects.filter(enrolment__isnull=False).values("enrolment_id")
        )
    if SurveyTarget.COURSE in targets:
        condition |= Q(pk__in=LessonProgress.objects.filter(credited_seconds__gt=0).values("enrolment_id"))
    return qs.filter(condition)


def invited_count(survey: Survey, scope: QuerySet[Organisation] | None = None) -> int:
    return invited_enrolments(survey, scope).values("learner_id").distinct().count()


def institution_of(enrolment: Enrolment) -> Organisation | None:
    """Who trained the learner: the enrolling institution, or the organiser of the call they applied through."""
    if enrolment.organisation is not None and enrolment.organisation.kind == OrganisationKind.INSTITUTION:
        return enrolment.organisation
    from safetrain.enterprise.models import ApplicationTrainee

    trainee = (
        ApplicationTrainee.objects.filter(enrolment=enrolment)
        .select_related("application__call__organiser")
        .first()
    )
    return trainee.application.call.organiser if trainee else None


@dataclass
class Subjects:
    institutions: list[Organisation] = field(default_factory=list)
    courses: list[Course] = field(default_factory=list)


def subjects(survey: Survey, learner: Any) -> Subjects:
    """What this learner is asked about: the institutions that trained them and the courses they studied that
    year."""
    enrolments = list(_year_enrolments(survey).filter(learner=learner).select_related("organisation"))
    found = Subjects()
    for enrolment in enrolments:
        institution = institution_of(enrolment)
        if institution is not None and institution not in found.institutions:
            found.institutions.append(institution)
    course_ids = (
        LessonProgress.objects.filter(enrolment__in=enrolments, credited_seconds__gt=0)
        .values_list("lesson__chapter__course_id", flat=True)
        .distinct()
    )
    found.courses = list(Course.objects.filter(pk__in=course_ids).order_by("code"))
    return found


def open_survey_for(learner: Any) -> Survey | None:
    """The open survey this learner is invited to and has not answered yet."""
    if not getattr(learner, "is_authenticated", False):
        return None
    today = timezone.localdate()
    for survey in Survey.objects.filter(opens_on__lte=today, closes_on__gte=today):
        if (
            invited_enrolments(survey).filter(learner=learner).exists()
            and not SurveyResponse.objects.filter(survey=survey, learner=learner).exists()
        ):
            return survey
    return None


def items(survey: Survey, learner: Any) -> list[tuple[Any, Any]]:
    """(question, subject) pairs to answer: the subject is None (platform), an institution or a course."""
    found = subjects(survey, learner)
    out = []
    for question in survey.questions.all():
        if question.target == SurveyTarget.PLATFORM:
            out.append((question, None))
        elif question.target == SurveyTarget.INSTITUTION:
            out.extend((question, institution) for institution in found.institutions)
        else:
            out.extend((question, course) for course in found.courses)
    return out


def item_key(question: Any, subject: Any) -> str:
    if subject is None:
        return f"q{question.pk}"
    prefix = "i" if isinstance(subject, Organisation) else "c"
    return f"q{question.pk}_{prefix}{subject.pk}"


def survey_submit(
    *, survey: Survey, learner: Any, marks: dict[str, Any], comments: dict[str, str]
) -> SurveyResponse:
    """Every item needs a mark from 1 to 5; a learner answers once."""
    if not survey.is_open():
        raise DomainError("survey_closed", _("This survey is not open."))
    if not _year_enrolments(survey).filter(learner=learner).exists():
        raise DomainError(
            "not_invited",
            _("This survey is for the learners who trained in %(year)d.") % {"year": survey.year},
        )
    pairs = items(survey, learner)
    if not pairs:
        raise DomainError(
            "nothing_to_rate",
            _(
                "This survey has nothing for you to rate: it asks about courses or institutions you did not use."
            ),
        )
    answers = []
    for question, subject in pairs:
        key = item_key(question, subject)
        value = str(marks.get(key, ""))
        if value not in {"1", "2", "3", "4", "5"}:
            name = (
                subject.name
                if isinstance(subject, Organisation)
                else getattr(subject, "title", _("the platform"))
            )
            raise DomainError(
                "mark_missing",
                _("Give a mark from 1 to 5 for “%(question)s” (%(subject)s).")
                % {"question": question.text, "subject": name},
                field=key,
            )
        answers.append(
            SurveyAnswer(
                question=question,
                institution=subject if isinstance(subject, Organisation) else None,
                course=subject if isinstance(subject, Course) else None,
                rating=int(value),
                comment=(comments.get(key) or "").strip()[:1000] if question.with_comment else "",
            )
        )
    try:
        with transaction.atomic():
            response = SurveyResponse.objects.create(
                survey=survey, learner=learner, submitted_at=timezone.now()
            )
            for answer in answers:
                answer.response = response
            SurveyAnswer.objects.bulk_create(answers)
    except IntegrityError as error:
        raise DomainError(
            "already_answered", _("You have answered this survey already. Thank you!")
        ) from error
    audit_log(action="regulator.survey_answer", actor=learner, obj=survey, detail={"answers": len(answers)})
    return response


@dataclass
class Rate:
    label: str
    marks: int
    satisfied: int
    total: int

    @property
    def mean(self) -> float | None:
        return round(self.total / self.marks, 2) if self.marks else None

    @property
    def percent(self) -> float | None:
        return round(100 * self.satisfied / self.marks, 1) if self.marks else None

    @property
    def flagged(self) -> bool:
        """On the exact fraction, not the rounded percentage (79.96 % shows as 80.0 and is flagged)."""
        return self.marks > 0 and self.satisfied * 100 < FLAG_BELOW_PERCENT * self.marks


@dataclass
class Results:
    survey: Survey
    invited: int
    responses: int
    platform: Rate
    institutions: list[Rate]
    courses: list[Rate]

    @property
    def response_percent(self) -> float | None:
        return round(100 * self.responses / self.invited, 1) if self.invited else None


def survey_results(survey: Survey, *, scope: QuerySet[Organisation] | None = None) -> Results:
    """The rates of a survey. `scope` (a regulator's units) narrows everything to the learners who trained there:
    the invited, the responses and the marks; the institution rows to the scope's institutions."""
    responses = survey.responses.all()
    if scope is not None:
        responses = responses.filter(learner_id__in=invited_enrolments(survey, scope).values("learner_id"))
    rates: dict[tuple[str, int | None], Rate] = {}
    rows = SurveyAnswer.objects.filter(response__in=responses).values_list(
        "question__target", "institution_id", "institution__name", "course_id", "course__title", "rating"
    )
    for target, institution_id, institution_name, course_id, course_title, rating in rows:
        if target == SurveyTarget.PLATFORM:
            key, label = ("platform", None), _("The platform")
        elif target == SurveyTarget.INSTITUTION:
            key, label = ("institution", institution_id), institution_name
        else:
            key, label = ("course", course_id), course_title
        rate = rates.setdefault(key, Rate(label, 0, 0, 0))
        rate.marks += 1
        rate.total += rating
        rate.satisfied += rating >= SATISFIED_FROM
    allowed = set(scope.values_list("pk", flat=True)) if scope is not None else None
    return Results(
        survey=survey,
        invited=invited_count(survey, scope),
        responses=responses.count(),
        platform=rates.get(("platform", None), Rate(_("The platform"), 0, 0, 0)),
        institutions=sorted(
            (
                r
                for (kind, pk), r in rates.items()
                if kind == "institution" and (allowed is None or pk in allowed)
            ),
            key=lambda r: r.label,
        ),
        courses=sorted((r for (kind, _pk), r in rates.items() if kind == "course"), key=lambda r: r.label),
    )
