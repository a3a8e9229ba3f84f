"""Enrolment writes (LRN-07 groundwork; the crediting engine arrives with LRN-01..05)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from safetrain.accounts.models import User
from safetrain.accounts.services import user_phone_erase
from safetrain.catalog.models import JobType, Programme
from safetrain.core.errors import DomainError
from safetrain.learning.models import Enrolment
from safetrain.learning.selectors import access_changed
from safetrain.orgs.models import Organisation
from safetrain.records.services import audit_log


@transaction.atomic
def enrolment_create(
    *,
    learner: Any,
    programme: Programme,
    organisation: Organisation | None = None,
    job_type: JobType | None = None,
    opened_on: dt.date | None = None,
) -> Enrolment:
    """Enrol a learner; the deadline follows the programme's rule (fixed date or N days after opening)."""
    if not programme.is_published:
        raise DomainError(
            "programme_not_published",
            _("The programme %(p)s is not open for enrolment.") % {"p": programme.name},
        )
    if Enrolment.objects.filter(learner=learner, programme=programme).exists():
        raise DomainError(
            "already_enrolled",
            _("%(name)s is already enrolled in %(p)s.") % {"name": learner.masked_name, "p": programme.name},
        )
    opened_on = opened_on or timezone.localdate()
    enrolment = Enrolment.objects.create(
        learner=learner,
        programme=programme,
        organisation=organisation or learner.primary_organisation,
        job_type=job_type,
        opened_on=opened_on,
        deadline=programme.deadline_for(opened_on),
    )
    transaction.on_commit(lambda: access_changed(learner))
    audit_log(
        action="enrolment.create",
        obj=enrolment,
        organisation_id=enrolment.organisation_id,
        detail={"programme": programme.pk, "learner": learner.pk},
    )
    if not programme.profile.keep_phones:
        # POL-PHONE: the learner now trains under a profile that keeps no phones (Guangdong, GD#14).
        user_phone_erase(user=learner, reason=f"profile:{programme.profile.code}")
    return enrolment


def keeps_phone(learner: Any) -> bool:
    """POL-PHONE for one learner: a learner enrolled in a programme whose region profile keeps no phones (GD#14)
    has none kept, whatever else they train in."""
    return not Enrolment.objects.filter(learner=learner, programme__profile__keep_phones=False).exists()


def phones_erase_by_profile() -> int:
    """POL-PHONE sweep (hourly): erase the phone of every learner under a profile that keeps none. Enrolment erases
    it at once; this catches numbers stored before the rule was kept per profile, and any that came back since
    (an import, an edit). Returns how many were erased."""
    held = (
        User.objects.filter(enrolments__programme__profile__keep_phones=False, phone_index__isnull=False)
        .distinct()
        .only("pk")
    )
    erased = 0
    for learner in held.iterator():
        code = (
            Enrolment.objects.filter(learner=learner, programme__profile__keep_phones=False)
            .values_list("programme__profile__code", flat=True)
            .first()
        )
        with transaction.atomic():
            erased += user_phone_erase(user=learner, reason=f"profile:{code}")
    return erased


def learners_without_phones(learner_ids: Any) -> set[int]:
    """Of these learners, those under a profile that keeps no phones (for imports: one query for the file)."""
    return set(
        Enrolment.objects.filter(learner_id__in=learner_ids, programme__profile__keep_phones=False)
        .values_list("learner_id", flat=True)
        .distinct()
    )


def enrolment_self(*, learner: Any, programme: Programme) -> Enrolment:
    """A learner enrols itself, where the programme allows it (LRN-07); its unit is its work unit."""
    if not programme.self_enrolment:
        raise DomainError(
            "self_enrolment_closed",
            _("This programme is enrolled by your unit or training institution, not by learners themselves."),
        )
    return enrolment_create(learner=learner, programme=programme)
