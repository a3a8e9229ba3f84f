"""Offline sessions (PRG-04) recorded by unit and institution administrators for their enrolled people."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from safetrain.accounts.models import UNIT_ADMIN_ROLES, User
from safetrain.catalog.models import OfflineSession, Programme
from safetrain.catalog.services import offline_session_record
from safetrain.core.decorators import staff_required
from safetrain.core.errors import DomainError
from safetrain.core.forms import DateInput, MultipleImageField
from safetrain.learning.models import Enrolment
from safetrain.orgs.models import Organisation, OrganisationKind
from safetrain.proctoring.tasks import match_group_photos


class OfflineSessionForm(forms.Form):
    programme = forms.ModelChoiceField(label=_("Programme"), queryset=Programme.objects.none())
    organisation = forms.ModelChoiceField(label=_("Unit"), queryset=Organisation.objects.none())
    date = forms.DateField(label=_("Date"), widget=DateInput())
    place = forms.CharField(label=_("Place"), max_length=200)
    teacher = forms.CharField(label=_("Teacher"), max_length=60)
    content = forms.CharField(label=_("Content"), widget=forms.Textarea(attrs={"rows": 3}))
    minutes = forms.IntegerField(label=_("Minutes"), min_value=1, max_value=1440)
    present = forms.ModelMultipleChoiceField(
        label=_("Present"), queryset=User.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    sheet = forms.ImageField(label=_("Signed attendance sheet (photo)"), required=False)
    photos = MultipleImageField(
        label=_("Front-face photos of the attendees (one or per group)"),
        required=False,
        help_text=_("Faces in these photos are matched against the enrolled learners' ID photos."),
    )

    def __init__(self, *args, viewer: User, **kwargs):
        super().__init__(*args, **kwargs)
        orgs = Organisation.objects.supervised_by(viewer).filter(
            kind__in=[OrganisationKind.ENTERPRISE, OrganisationKind.PROJECT, OrganisationKind.INSTITUTION]
        )
        enrolments = (
            Enrolment.objects.active()
            .filter(learner__memberships__organisation__in=Organisation.objects.supervised_by(viewer))
            .distinct()
        )
        self.fields["organisation"].queryset = orgs
        self.fields["programme"].queryset = Programme.objects.filter(enrolments__in=enrolments).distinct()
        self.fields["present"].queryset = User.objects.filter(enrolments__in=enrolments).distinct()
        self.fields["present"].label_from_instance = lambda u: f"{u.name} {u.masked_id_number}"


@staff_required(*UNIT_ADMIN_ROLES)
def offline_sessions_view(request: HttpRequest) -> HttpResponse:
    form = OfflineSessionForm(
        request.POST or None,
        request.FILES or None,
        viewer=request.user,
        initial={"date": timezone.localdate()},
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            enrolled = set(
                Enrolment.objects.filter(programme=data["programme"]).values_list("learner_id", flat=True)
            )
            present = [u for u in data["present"] if u.pk in enrolled]
            try:
                session = offline_session_record(
                    programme=data["programme"],
                    organisation=data["organisation"],
                    date=data["date"],
                    place=data["place"],
                    teacher=data["teacher"],
                    content=data["content"],
                    minutes=data["minutes"],
                    learners=present,
                    photos=data["photos"],
                    sheet=data["sheet"],
                    actor=request.user,
                )
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
                status = 400
            else:
                if data["photos"]:
                    # FACE-06: faces are matched in the background (a second or so per photo).
                    transaction.on_commit(lambda: match_group_photos.delay(session.pk))
                    messages.success(
                        request,
                        _("The offline session was recorded; the faces in its photos are being matched."),
                    )
                    return redirect("proctoring:group", session_id=session.pk)
                messages.success(request, _("The offline session was recorded."))
                return redirect("learning:offline_sessions")
        else:
            status = 400
    sessions = (
        OfflineSession.objects.filter(organisation__in=Organisation.objects.supervised_by(request.user))
        .select_related("programme", "organisation")
        .prefetch_related("attendance", "photos")[:100]
    )
    return render(
        request, "learning/offline_sessions.html", {"form": form, "sessions": sessions}, status=status
    )
