"""Sync of a project's people with the construction real-name system (实名制同步, ENT-03, INT-02).

The real-name system (两制平台) is where a project's people are registered; the training platform follows it:
- the project's first sync (its admin's first visit to the people page) pulls every on-duty person;
- a manual sync applies joins (new or returned people), leaves (离场: off site there, or no longer listed) and
  changes (a new job code there), and reports what it did;
- job codes go through CAT-03's mapping table; a code without a job type is listed for the admin (and recorded in
  the table, unmapped, for an operator to map); a job type an admin fixed here is kept until the code changes;
- teams are never synced (the project sets them up itself);
- afterwards the on-site head count of both systems is compared, and a mismatch names the people that differ.

Everything is fetched before anything changes, and the changes run in one transaction: a sync that fails half-way
(the system unreachable on page 3, a database error) changes nothing, and says why (the failure is recorded too).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.cache import cache
from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from safetrain.accounts.identity import IdType, initial_password_for, parse_identity
from safetrain.accounts.models import Membership, Role, User, id_index_of, phone_index_of
from safetrain.accounts.services import membership_grant, normalise_phone, user_create
from safetrain.catalog.models import JobCodeMapping
from safetrain.core.errors import DomainError, PermissionDenied
from safetrain.enterprise.models import Personnel, RealNameProject, RealNameSync
from safetrain.enterprise.roster import person_leave
from safetrain.integrations.realname import (
    RealNameConnector,
    RealNameUnavailable,
    RemoteWorker,
    default_connector,
)
from safetrain.orgs.models import Organisation, OrganisationKind
from safetrain.records.services import audit_log


@dataclass
class _Plan:
    valid: dict[str, tuple[RemoteWorker, str]] = field(default_factory=dict)  # id_index -> (worker, number)
    refused: list[dict[str, str]] = field(default_factory=list)


def _plan(workers: list[RemoteWorker]) -> _Plan:
    plan = _Plan()
    for worker in workers:
        try:
            number = parse_identity(IdType.RESIDENT_ID, worker.id_number).number
        except DomainError as error:
            plan.refused.append(
                {"name": worker.name, "id_number": worker.id_number[-4:], "reason": str(error.message)}
            )
            continue
        index = id_index_of(number)
        if index in plan.valid and plan.valid[index][0].on_site and not worker.on_site:
            continue  # listed twice: on site wins
        plan.valid[index] = (worker, number)
    return plan


def _job_types(workers: list[RemoteWorker]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """Job code -> job type (or None), creating unmapped codes in the mapping table; and the unmapped ones."""
    source = settings.REALNAME_JOB_CODE_SOURCE
    codes = {w.job_code: w.job_name for w in workers if w.job_code}
    known = {
        m.external_code: m for m in JobCodeMapping.objects.filter(source=source, external_code__in=codes)
    }
    for code, name in codes.items():
        if code not in known:
            known[code] = JobCodeMapping.objects.create(
                source=source, external_code=code, external_name=name[:80] or code
            )
    unmapped = [
        {"code": code, "name": known[code].external_name}
        for code in sorted(codes)
        if known[code].job_type_id is None
    ]
    return {code: known[code].job_type for code in codes}, unmapped


def _free_phone(phone: str) -> str:
    """The worker's phone for a new account, unless it is malformed or another account's (then none)."""
    try:
        phone = normalise_phone(phone)
    except DomainError:
        return ""
    return "" if phone and User.objects.filter(phone_index=phone_index_of(phone)).exists() else phone


def _never_synced(project: Organisation) -> bool:
    return not RealNameSync.objects.filter(project=project, ok=True).exists()


def first_sync_due(project: Organisation) -> bool:
    """A project linked to the real-name system that was never synced (its first visit pulls everybody)."""
    return RealNameProject.objects.filter(project=project).exists() and _never_synced(project)


def realname_project(project: Organisation) -> RealNameProject | None:
    return RealNameProject.objects.filter(project=project).first()


def _connector() -> RealNameConnector:
    if settings.REALNAME_DEMO:
        # `make run`: the demo's real-name system, in process (imported here: the demo module builds on this one).
        from safetrain.enterprise.demo import DemoRealNameConnector

        return DemoRealNameConnector()
    return default_connector()


def realname_sync(
    *, project: Organisation, actor: Any = None, connector: RealNameConnector | None = None
) -> RealNameSync:
    """Sync `project` with the real-name system; returns the recorded result (ok or the failure's reason)."""
    if actor is not None and not Organisation.objects.administered_by(actor).filter(pk=project.pk).exists():
        raise PermissionDenied("forbidden", _("You can only sync your own projects."))
    if project.kind != OrganisationKind.PROJECT:
        raise DomainError(
            "not_a_project", _("Only construction projects are synced with the real-name system.")
        )
    link = realname_project(project)
    if link is None:
        raise DomainError(
            "no_realname_code",
            _("This project has no real-name system code yet. Ask the platform operator to enter it."),
        )
    first = _never_synced(project)
    now = timezone.now()
    try:
        connector = connector or _connector()
        remote = connector.project(link.code)
        workers = connector.workers(link.code)
    except RealNameUnavailable as error:
        return _failed(project, actor, first, now, str(error.message))
    plan = _plan(workers)
    existing = {u.id_index: u for u in User.objects.filter(id_index__in=list(plan.valid))}
    # New accounts' initial passwords are hashed before the transaction (slow on purpose, see roster_import).
    hashes = {
        index: make_password(initial_password_for(number))
        for index, (worker, number) in plan.valid.items()
        if worker.on_site and index not in existing
    }
    try:
        with transaction.atomic():
            result = _apply(project, actor, first, now, remote.on_site_count, plan, existing, hashes)
    except DomainError as error:
        return _failed(project, actor, first, now, str(error.message))
    except DatabaseError as error:
        return _failed(
            project,
            actor,
            first,
            now,
            _("The sync could not be saved (%(error)s). Nothing was changed; please try again.")
            % {"error": type(error).__name__},
        )
    return result


def _failed(project: Organisation, actor: Any, first: bool, now, reason: str) -> RealNameSync:
    sync = RealNameSync.objects.create(
        project=project,
        at=now,
        actor=actor if getattr(actor, "pk", None) else None,
        first=first,
        ok=False,
        error=reason,
    )
    audit_log(
        action="enterprise.realname_sync",
        actor=actor,
        obj=project,
        result="failure",
        detail={"error": reason},
    )
    return sync


def _apply(project, actor, first, now, remote_on_site, plan: _Plan, existing, hashes) -> RealNameSync:
    today = timezone.localdate(now)
    job_types, unmapped = _job_types([w for w, _n in plan.valid.values()])
    people = {
        p.user.id_index: p for p in Personnel.objects.filter(organisation=project).select_related("user")
    }
    members = set(
        Membership.objects.filter(organisation=project, role=Role.LEARNER, is_active=True).values_list(
            "user_id", flat=True
        )
    )
    report: dict[str, list] = {
        "joined": [],
        "left": [],
        "changed": [],
        "refused": plan.refused,
        "unmapped": unmapped,
    }
    unchanged = 0
    for index, (worker, number) in plan.valid.items():
        person = people.get(index)
        job_type = job_types.get(worker.job_code)
        if not worker.on_site:
            if person is not None and person.on_site:
                person_leave(person=person, day=today)
                report["left"].append(worker.name)
            continue
        user = existing.get(index)
        if user is None:
            user = user_create(
                id_number=number,
                name=worker.name,
                organisation=project,
                role=Role.LEARNER,
                phone=_free_phone(worker.phone),
                initial_password_hash=hashes.get(index, ""),
            )
        elif user.pk not in members:
            membership_grant(user=user, organisation=project, role=Role.LEARNER)
        if person is None:
            Personnel.objects.create(
                organisation=project,
                user=user,
                job_type=job_type,
                joined_on=today,
                realname_job_code=worker.job_code,
            )
            report["joined"].append(worker.name)
        elif not person.on_site:
            person.on_site, person.left_on = True, None
            if worker.job_code != person.realname_job_code:
                person.job_type, person.realname_job_code = job_type, worker.job_code
            person.save(update_fields=["on_site", "left_on", "job_type", "realname_job_code"])
            report["joined"].append(worker.name)
        elif worker.job_code != person.realname_job_code:
            # The real-name system changed the job: follow it (a job type fixed here stays until then).
            person.job_type, person.realname_job_code = job_type, worker.job_code
            person.save(update_fields=["job_type", "realname_job_code"])
            report["changed"].append(worker.name)
        else:
            unchanged += 1
    # People on site here whom the real-name system no longer lists have left the site.
    for index, person in people.items():
        if person.on_site and index not in plan.valid:
            person_leave(person=person, day=today)
            report["left"].append(person.user.name)
    local = {
        p.user.id_index: p.user.name
        for p in Personnel.objects.filter(organisation=project, on_site=True).select_related("user")
    }
    local_on_site = len(local)
    remote_ids = {index for index, (w, _n) in plan.valid.items() if w.on_site}
    report["only_here"] = sorted(name for index, name in local.items() if index not in remote_ids)
    report["only_there"] = sorted(
        w.name for index, (w, _n) in plan.valid.items() if w.on_site and index not in local
    ) + sorted(r["name"] for r in plan.refused)
    sync = RealNameSync.objects.create(
        project=project,
        at=now,
        actor=actor if getattr(actor, "pk", None) else None,
        first=first,
        joined=len(report["joined"]),
        left=len(report["left"]),
        changed=len(report["changed"]),
        unchanged=unchanged,
        remote_on_site=remote_on_site,
        local_on_site=local_on_site,
        report=report,
    )
    audit_log(
        action="enterprise.realname_sync",
        actor=actor,
        obj=project,
        detail={
            k: getattr(sync, k)
            for k in ("joined", "left", "changed", "unchanged", "remote_on_site", "local_on_site")
        },
    )
    return sync


# In the background (the first sync of a big project opens hundreds of accounts: minutes of password hashing) ----


def _lock_key(project: Organisation) -> str:
    from django.db import connection

    return f"enterprise:realname-sync:{connection.settings_dict['NAME']}:{project.pk}"


def sync_running(project: Organisation) -> bool:
    return cache.get(_lock_key(project)) is not None


def realname_sync_start(*, project: Organisation, actor: Any = None) -> bool:
    """Start a sync in the background (Celery task enterprise.realname_sync) unless one is running for the
    project; the page shows it running and then its result. Returns whether one was started."""
    if actor is not None and not Organisation.objects.administered_by(actor).filter(pk=project.pk).exists():
        raise PermissionDenied("forbidden", _("You can only sync your own projects."))
    if not cache.add(
        _lock_key(project), getattr(actor, "pk", None) or 0, timeout=settings.REALNAME_SYNC_LOCK_SECONDS
    ):
        return False
    from safetrain.enterprise.tasks import run_realname_sync

    actor_id = getattr(actor, "pk", None)
    transaction.on_commit(lambda: run_realname_sync.delay(project.pk, actor_id))
    return True


def realname_sync_run(project_id: int, actor_id: int | None) -> bool:
    project = Organisation.objects.get(pk=project_id)
    try:
        actor = User.objects.filter(pk=actor_id).first() if actor_id else None
        return realname_sync(project=project, actor=actor).ok
    finally:
        cache.delete(_lock_key(project))
