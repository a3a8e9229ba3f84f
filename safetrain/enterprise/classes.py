"""Training classes (开班培训, ENT-04) and their group sessions (企业集中培训, FACE-06).

An admin opens a class of one programme for a unit, adds the unit's people on site (filtered: not trained in
this programme yet (未参培), job type, team), and follows each member's progress. Adding someone enrols them in the
programme (with their job type, so they get the general course and their own job-type course, PRG-02); someone
already enrolled keeps that enrolment and its progress. The unit's training summary (人员培训汇总) lists everyone
who has been put into training, finished or not.

A group session records a session held together: the signed attendance sheet photo and the front-face photos
(one or per group), whose faces are matched against the members' reference photos in the background.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from safetrain.accounts.models import Membership
from safetrain.catalog.models import OfflinePhoto, OfflinePhotoKind, Programme
from safetrain.catalog.services import offline_session_record
from safetrain.core.errors import DomainError, PermissionDenied
from safetrain.enterprise.models import ClassGroupSession, ClassMember, Personnel, TrainingClass
from safetrain.enterprise.reports import PersonRow, people_rows
from safetrain.enterprise.selectors import on_site_records, unit_records
from safetrain.learning.models import Enrolment, EnrolmentStatus
from safetrain.learning.services import enrolment_create
from safetrain.orgs.models import Organisation, OrganisationKind
from safetrain.records.services import audit_log

CLASS_UNIT_KINDS = (OrganisationKind.ENTERPRISE, OrganisationKind.PROJECT, OrganisationKind.INSTITUTION)
SUMMARY_STATUSES = ("", "in_progress", "completed")


def _check_admin(actor: Any, unit: Organisation) -> None:
    if actor is not None and not Organisation.objects.administered_by(actor).filter(pk=unit.pk).exists():
        raise PermissionDenied("forbidden", _("You can only manage the people of your own units."))


def class_create(
    *,
    unit: Organisation,
    programme: Programme,
    name: str,
    starts_on: dt.date,
    ends_on: dt.date | None = None,
    actor: Any = None,
) -> TrainingClass:
    _check_admin(actor, unit)
    name = (name or "").strip()
    if not name:
        raise DomainError(
            "field_required", _("Give the class a name, e.g. “December site induction”."), field="name"
        )
    if len(name) > 120:
        raise DomainError(
            "name_too_long", _("The class name is too long (at most 120 characters)."), field="name"
        )
    if unit.kind not in CLASS_UNIT_KINDS:
        raise DomainError(
            "invalid_unit", _("Classes are opened by an enterprise, a project or an institution.")
        )
    if not programme.is_published:
        raise DomainError(
            "programme_not_published",
            _("The programme %(p)s is not open for enrolment.") % {"p": programme.name},
            field="programme",
        )
    if ends_on is not None and ends_on < starts_on:
        raise DomainError(
            "invalid_dates", _("The class cannot end before it starts: check the two dates."), field="ends_on"
        )
    training_class = TrainingClass.objects.create(
        organisation=unit,
        programme=programme,
        name=name,
        starts_on=starts_on,
        ends_on=ends_on,
        created_by=actor,
    )
    audit_log(
        action="enterprise.class_create",
        actor=actor,
        obj=training_class,
        organisation_id=unit.pk,
        detail={"programme": programme.pk, "name": name},
    )
    return training_class


def teams_of(unit: Organisation) -> list[Organisation]:
    return list(Organisation.objects.subtree_of(unit).filter(kind=OrganisationKind.TEAM).order_by("name"))


def member_user_ids(training_class: TrainingClass) -> set[int]:
    return set(training_class.members.values_list("enrolment__learner_id", flat=True))


def class_candidates(
    training_class: TrainingClass,
    *,
    untrained: bool = False,
    job_type_id: int | None = None,
    team_id: int | None = None,
) -> list[Personnel]:
    """The unit's people on site who are not in the class yet, narrowed by the filters: `untrained` (未参培: not
    enrolled in the class's programme, here or anywhere), a job type, a team of the unit."""
    people = Personnel.objects.filter(
        pk__in=[p.pk for p in on_site_records(training_class.organisation)]
    ).exclude(user_id__in=member_user_ids(training_class))
    people = people.select_related("user", "job_type").order_by("pk")
    if untrained:
        people = people.exclude(
            user__enrolments__in=Enrolment.objects.filter(programme=training_class.programme).exclude(
                status=EnrolmentStatus.VOID
            )
        )
    if job_type_id is not None:
        people = people.filter(job_type_id=job_type_id)
    if team_id is not None:
        people = people.filter(
            user_id__in=Membership.objects.filter(
                organisation_id=team_id,
                organisation__path__startswith=training_class.organisation.path,
                is_active=True,
            ).values("user_id")
        )
    return list(people)


@dataclass
class AddResult:
    added: list[str] = field(default_factory=list)  # names
    already: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)


@transaction.atomic
def class_add(*, training_class: TrainingClass, person_ids: Iterable[int], actor: Any = None) -> AddResult:
    """Put these people of the class's unit into the class: everyone is enrolled in the programme (an existing
    enrolment and its progress are kept). People who left the site or whose enrolment was voided are refused
    with the reason; the others are added."""
    unit = training_class.organisation
    _check_admin(actor, unit)
    wanted = sorted({int(i) for i in person_ids})
    if not wanted:
        raise DomainError("nobody_chosen", _("Tick the people to add first."))
    people = {
        p.pk: p
        for p in Personnel.objects.filter(
            pk__in=wanted, organisation__path__startswith=unit.path
        ).select_related("user", "job_type")
    }
    if len(people) != len(wanted):
        raise DomainError(
            "not_in_unit",
            _("Some of the chosen people are not on the staff of %(unit)s.") % {"unit": unit.name},
        )
    members = member_user_ids(training_class)
    existing = {
        e.learner_id: e
        for e in Enrolment.objects.filter(
            programme=training_class.programme, learner_id__in=[p.user_id for p in people.values()]
        )
    }
    result = AddResult()
    now = timezone.now()
    for person in people.values():
        name = person.user.name
        if person.user_id in members:
            result.already.append(name)
            continue
        if not person.on_site:
            result.refused.append((name, _("has left the site")))
            continue
        enrolment = existing.get(person.user_id)
        if enrolment is not None and enrolment.status == EnrolmentStatus.VOID:
            result.refused.append(
                (name, _("the enrolment in this programme was voided; ask the platform operator"))
            )
            continue
        if enrolment is None:
            enrolment = enrolment_create(
                learner=person.user,
                programme=training_class.programme,
                organisation=unit,
                job_type=person.job_type,
            )
        ClassMember.objects.create(
            training_class=training_class, enrolment=enrolment, added_by=actor, added_at=now
        )
        result.added.append(name)
    audit_log(
        action="enterprise.class_add",
        actor=actor,
        obj=training_class,
        organisation_id=unit.pk,
        detail={"added": len(result.added), "already": len(result.already), "refused": len(result.refused)},
    )
    return result


def class_rows(training_class: TrainingClass) -> list[PersonRow]:
    """Each member with their progress in the class's programme."""
    user_ids = member_user_ids(training_class)
    people = [p for p in unit_records(training_class.organisation) if p.user_id in user_ids]
    return people_rows(training_class.organisation, people, programme_id=training_class.programme_id)


def training_summary(
    unit: Organisation, status: str = "", *, people: list[Personnel] | None = None
) -> list[PersonRow]:
    """人员培训汇总: everyone of the unit and its sub-units who has been put into training (enrolled, in a class or
    not), on site or left, with where they stand; `status` narrows to those still in progress or those completed.
    `people`: the unit's people as the page lists them (enterprise.selectors.unit_people), else its staff records."""
    if status not in SUMMARY_STATUSES:
        raise DomainError("invalid_status", _("Unknown status filter."))
    if people is None:
        people = unit_records(unit)
    rows = [r for r in people_rows(unit, people) if r.enrolments]
    if status == "completed":
        return [r for r in rows if r.completed]
    if status == "in_progress":
        return [r for r in rows if not r.completed]
    return rows


# Group sessions (FACE-06) -------------------------------------------------------------------------------------


def group_session_record(
    *,
    training_class: TrainingClass,
    date: dt.date,
    place: str,
    teacher: str,
    content: str,
    minutes: int,
    present_user_ids: Iterable[int],
    sheet: UploadedFile | None,
    photos: list[UploadedFile],
    actor: Any = None,
) -> ClassGroupSession:
    """Record a group session of the class: who was there (members only), the signed sheet and the face photos
    (both required, S0 10: 企业集中培训必须上传签到表照片、培训人员正脸照片). The faces are matched after commit."""
    from safetrain.proctoring.tasks import match_group_photos

    _check_admin(actor, training_class.organisation)
    present = set(present_user_ids)
    if not present:
        raise DomainError("nobody_present", _("Tick the members who attended."), field="present")
    if not present <= member_user_ids(training_class):
        raise DomainError(
            "not_a_member", _("Only members of the class can be ticked as present."), field="present"
        )
    if sheet is None:
        raise DomainError(
            "sheet_required", _("Upload the photo of the signed attendance sheet."), field="sheet"
        )
    if not photos:
        raise DomainError(
            "photos_required",
            _("Upload at least one front-face photo of the attendees (one photo, or one per group)."),
            field="photos",
        )
    with transaction.atomic():
        from safetrain.accounts.models import User

        session = offline_session_record(
            programme=training_class.programme,
            organisation=training_class.organisation,
            date=date,
            place=place,
            teacher=teacher,
            content=content,
            minutes=minutes,
            learners=list(User.objects.filter(pk__in=present)),
            photos=photos,
            sheet=sheet,
            actor=actor,
        )
        link = ClassGroupSession.objects.create(training_class=training_class, session=session)
        transaction.on_commit(lambda: match_group_photos.delay(session.pk))
    return link


def group_photos_add(
    *, link: ClassGroupSession, sheet: UploadedFile | None, photos: list[UploadedFile], actor: Any = None
) -> int:
    """More photos later (S0 10: photos may be uploaded during or after the study); the faces are matched again."""
    from safetrain.proctoring.tasks import match_group_photos

    _check_admin(actor, link.training_class.organisation)
    uploads = [(OfflinePhotoKind.SHEET, sheet)] if sheet else []
    uploads += [(OfflinePhotoKind.FACES, p) for p in photos]
    if not uploads:
        raise DomainError("photos_required", _("Choose the photos to upload."), field="photos")
    with transaction.atomic():
        for kind, upload in uploads:
            item = OfflinePhoto(session=link.session, kind=kind)
            item.image.save(upload.name, upload, save=False)
            item.save()
        audit_log(
            action="enterprise.class_photos",
            actor=actor,
            obj=link.session,
            organisation_id=link.training_class.organisation_id,
            detail={"photos": len(uploads)},
        )
        if photos:
            transaction.on_commit(lambda: match_group_photos.delay(link.session_id))
    return len(uploads)
