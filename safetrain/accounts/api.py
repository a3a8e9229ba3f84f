"""Accounts API: sign-in for tokens, password change, the current user, scoped people lists."""

from __future__ import annotations

import datetime as dt

from captcha.helpers import captcha_image_url
from captcha.models import CaptchaStore
from django.contrib.auth import logout as django_logout
from django.contrib.auth import update_session_auth_hash
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Query, Router, Schema, Status

from safetrain.accounts.models import User
from safetrain.accounts.selectors import people_search
from safetrain.accounts.services import (
    api_token_issue,
    auth_session_end,
    auth_session_rekey,
    login_authenticate,
    password_change,
    totp_verify,
    two_factor_required,
)
from safetrain.core.errors import DomainError
from safetrain.records.services import audit_log

router = Router(tags=["accounts"])


class LoginIn(Schema):
    username: str = Field(..., min_length=1, max_length=40, description="ID number (or mobile phone)")
    password: str = Field(..., min_length=1, max_length=128)
    captcha_key: str = Field("", max_length=64)
    captcha_value: str = Field("", max_length=16)
    otp: str = Field(
        "", max_length=10, description="Two-factor dynamic code (operator and regulator accounts)"
    )


class OrganisationRef(Schema):
    id: int
    name: str
    kind: str


class MembershipOut(Schema):
    role: str
    organisation: OrganisationRef


class MeOut(Schema):
    id: int
    name: str
    id_type: str
    id_number_masked: str
    sex: str
    birth_date: dt.date | None
    must_change_password: bool
    roles: list[str]
    organisation: OrganisationRef | None
    memberships: list[MembershipOut]


class LoginOut(Schema):
    token: str
    must_change_password: bool
    user: MeOut


class PasswordIn(Schema):
    old_password: str = Field(..., min_length=1, max_length=128)
    new_password: str = Field(..., min_length=1, max_length=128)


class OkOut(Schema):
    ok: bool = True


class ErrorOut(Schema):
    code: str
    message: str


class PersonOut(Schema):
    id: int
    name: str
    id_number_masked: str
    sex: str
    birth_date: dt.date | None
    organisation: OrganisationRef | None
    is_active: bool


def me_out(user: User) -> MeOut:
    org = user.primary_organisation
    return MeOut(
        id=user.pk,
        name=user.name,
        id_type=user.id_type,
        id_number_masked=user.masked_id_number,
        sex=user.sex,
        birth_date=user.birth_date,
        must_change_password=user.must_change_password,
        roles=sorted(user.roles()),
        organisation=OrganisationRef(id=org.pk, name=org.name, kind=org.kind) if org else None,
        memberships=[
            MembershipOut(
                role=m.role,
                organisation=OrganisationRef(
                    id=m.organisation.pk, name=m.organisation.name, kind=m.organisation.kind
                ),
            )
            for m in user.active_memberships()
        ],
    )


def person_out(user: User) -> PersonOut:
    org = user.primary_organisation
    return PersonOut(
        id=user.pk,
        name=user.name,
        id_number_masked=user.masked_id_number,
        sex=user.sex,
        birth_date=user.birth_date,
        organisation=OrganisationRef(id=org.pk, name=org.name, kind=org.kind) if org else None,
        is_active=user.is_active,
    )


LOGIN_STATUS = {
    "invalid_credentials": 401,
    "account_locked": 423,
    "two_factor_setup_required": 403,
    "invalid_otp": 401,
}


@router.post(
    "/auth/login",
    auth=None,
    response={200: LoginOut, 400: dict, 401: dict, 403: dict, 423: dict},
    summary="Sign in and get a bearer token",
)
def login(request: HttpRequest, payload: LoginIn):
    try:
        user = login_authenticate(
            request=request,
            username=payload.username,
            password=payload.password,
            captcha_key=payload.captcha_key,
            captcha_value=payload.captcha_value,
        )
        if two_factor_required(user):
            totp_verify(user=user, token=payload.otp)
    except DomainError as exc:
        body = exc.as_dict()
        if exc.details.get("captcha_required"):
            key = CaptchaStore.generate_key()
            body["captcha"] = {"key": key, "image_url": request.build_absolute_uri(captcha_image_url(key))}
        return Status(LOGIN_STATUS.get(exc.code, 400), body)
    token = api_token_issue(user=user, request=request)
    return Status(
        200, LoginOut(token=token, must_change_password=user.must_change_password, user=me_out(user))
    )


@router.post("/auth/logout", response=OkOut, summary="End this token's (or browser's) session")
def logout(request: HttpRequest):
    token = _bearer(request)
    if token:
        auth_session_end(secret=token, reason="logout")
        audit_log(action="auth.logout", obj=request.auth, actor=request.auth, detail={"channel": "api"})
    else:
        django_logout(request)  # ends the AuthSession and audits through the user_logged_out receiver
    return OkOut()


def _bearer(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    return header.split(" ", 1)[1].strip() if header.lower().startswith("bearer ") else None


@router.put("/auth/password", response={200: OkOut, 400: ErrorOut}, summary="Change the password")
def change_password(request: HttpRequest, payload: PasswordIn):
    token = _bearer(request)
    old_key = request.session.session_key or ""
    password_change(
        user=request.auth,
        old_password=payload.old_password,
        new_password=payload.new_password,
        keep_secret=token or old_key,
    )
    if not token:  # a browser session stays signed in under its new key
        update_session_auth_hash(request, request.auth)
        auth_session_rekey(old_secret=old_key, new_secret=request.session.session_key or "")
    return OkOut()


@router.get("/me", response=MeOut, summary="The signed-in user, roles and organisation")
def me(request: HttpRequest):
    return me_out(request.auth)


@router.get("/learners", response=list[PersonOut], summary="People visible to the user (scoped)")
def learners(
    request: HttpRequest,
    organisation_id: int | None = None,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=1_000_000),
):
    people = people_search(viewer=request.auth, organisation_id=organisation_id)
    return [person_out(u) for u in people[offset : offset + limit]]


class PeopleSearchIn(Schema):
    id_number: str = Field(..., min_length=1, max_length=20)
    organisation_id: int | None = None


@router.post(
    "/learners/search", response=list[PersonOut], summary="Find people by ID number (scoped; in the body)"
)
def learners_search(request: HttpRequest, payload: PeopleSearchIn):
    people = people_search(
        viewer=request.auth, organisation_id=payload.organisation_id, id_number=payload.id_number
    )
    return [person_out(u) for u in people[:50]]


@router.get("/learners/{user_id}", response={200: PersonOut, 404: ErrorOut}, summary="One person (scoped)")
def learner(request: HttpRequest, user_id: int):
    user = get_object_or_404(
        User.objects.visible_to(request.auth).select_related("primary_organisation"), pk=user_id
    )
    return Status(200, person_out(user))
