"""Institution registration pages (ORG-04, REG-03): the institution's application, the city module's review, the
public per-city lists."""

from __future__ import annotations

import mimetypes

from django import forms
from django.contrib import messages
from django.db.models import Count
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from safetrain.accounts.models import Role
from safetrain.core.decorators import staff_required
from safetrain.core.errors import DomainError
from safetrain.orgs.models import Organisation, OrganisationKind, Region
from safetrain.regulator import registrations
from safetrain.regulator.models import InstitutionRegistration, RegistrationState


class ApplyForm(forms.Form):
    institution = forms.ModelChoiceField(label=_lazy("Institution"), queryset=Organisation.objects.none())
    city = forms.ModelChoiceField(label=_lazy("City module"), queryset=Region.objects.none())
    legal_representative = forms.CharField(label=_lazy("Legal representative"), max_length=60)
    address = forms.CharField(label=_lazy("Office address"), max_length=200)
    contact_name = forms.CharField(label=_lazy("Contact person"), max_length=60)
    contact_phone = forms.CharField(label=_lazy("Contact phone"), max_length=30)
    scope = forms.CharField(label=_lazy("Training offered"), widget=forms.Textarea(attrs={"rows": 3}))
    commitment = forms.FileField(label=_lazy("Signed commitment letter (附件2, PDF or photo)"))

    def __init__(self, *args, viewer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["institution"].queryset = Organisation.objects.administered_by(viewer).filter(
            kind=OrganisationKind.INSTITUTION
        )
        self.fields["city"].queryset = registrations.cities()


def _mine(user):
    return InstitutionRegistration.objects.filter(
        institution__in=Organisation.objects.administered_by(user).filter(kind=OrganisationKind.INSTITUTION)
    ).select_related("institution", "city")


@staff_required(Role.INSTITUTION_ADMIN)
def apply_view(request: HttpRequest) -> HttpResponse:
    form = ApplyForm(request.POST or None, request.FILES or None, viewer=request.user)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                registration = registrations.registration_apply(
                    institution=data["institution"],
                    city=data["city"],
                    commitment=data["commitment"],
                    details=data,
                    actor=request.user,
                )
            except DomainError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                messages.success(
                    request,
                    _("The application was sent to the %(city)s module.") % {"city": registration.city.name},
                )
                return redirect("regulator:registration", registration_id=registration.pk)
    return render(request, "regulator/apply.html", {"form": form, "mine": _mine(request.user)}, status=status)


def _visible(user):
    return (registrations.supervised_registrations(user) | _mine(user)).distinct()


@staff_required(Role.REGULATOR)
def registrations_view(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "")
    rows = registrations.supervised_registrations(request.user)
    if state in RegistrationState.values:
        rows = rows.filter(state=state)
    return render(
        request,
        "regulator/registrations.html",
        {"rows": rows[:500], "state": state, "states": RegistrationState.choices},
    )


@staff_required(Role.REGULATOR, Role.INSTITUTION_ADMIN)
def registration_view(request: HttpRequest, registration_id: int) -> HttpResponse:
    registration = get_object_or_404(_visible(request.user), pk=registration_id)
    if request.method == "POST":
        action, reason = request.POST.get("action", ""), request.POST.get("reason", "")
        try:
            if action in ("approve", "reject"):
                registrations.registration_decide(
                    registration=registration, approve=action == "approve", reason=reason, actor=request.user
                )
            else:
                registrations.registration_change(
                    registration=registration, action=action, reason=reason, actor=request.user
                )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Saved."))
        return redirect("regulator:registration", registration_id=registration.pk)
    return render(
        request,
        "regulator/registration.html",
        {
            "registration": registration,
            "events": registration.events.select_related("actor"),
            "decides": registrations.regulated_cities(request.user).filter(pk=registration.city_id).exists(),
            "owns": _mine(request.user).filter(pk=registration.pk).exists(),
        },
    )


@staff_required(Role.REGULATOR, Role.INSTITUTION_ADMIN)
def commitment_view(request: HttpRequest, registration_id: int) -> FileResponse:
    registration = get_object_or_404(_visible(request.user), pk=registration_id)
    if not registration.commitment:
        raise Http404
    name = registration.commitment.name
    response = FileResponse(registration.commitment.open("rb"), content_type=mimetypes.guess_type(name)[0])
    response["Content-Disposition"] = "inline"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def public_cities_view(request: HttpRequest) -> HttpResponse:
    rows = (
        InstitutionRegistration.objects.filter(state=RegistrationState.APPROVED)
        .values("city__code", "city__name")
        .annotate(n=Count("pk"))
        .order_by("city__code")
    )
    return render(request, "regulator/public_cities.html", {"rows": rows})


def public_city_view(request: HttpRequest, code: str) -> HttpResponse:
    city = get_object_or_404(registrations.cities(), code=code)
    return render(
        request, "regulator/public_city.html", {"city": city, "rows": registrations.public_list(city)}
    )
