"""Sign-in through the city's OpenID Connect provider (mozilla-django-oidc), and the roles its
groups give a person here.

The library runs the authorization-code flow with PKCE, keeps state and nonce per attempt in the
session and drops each on use; this module adds what a city needs of it: endpoints from the
discovery document, the ID token's issuer and audience checked beside its signature and expiry,
people found by (issuer, subject) and never by email, and the role decided here from the
person's groups at every sign-in.
"""

from __future__ import annotations

import functools
from urllib.parse import urlencode

import jwt
import requests
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from server.accounts.mfa import SIGNED_IN_BY
from server.accounts.models import Role, SsoIdentity, User
from server.audit.services import record_audit

SSO_REFUSED = "auth.sso_refused"

# The unit kind a field role rides in: a person moved to another kind leaves their unit.
UNIT_KIND_OF_ROLE = {Role.CARE_RESPONDER: "care", Role.SPD_OFFICER: "spd"}


def enabled() -> bool:
    return bool(settings.OIDC_ISSUER and settings.OIDC_RP_CLIENT_ID)


@functools.cache
def _discovery(issuer: str) -> dict:
    answer = requests.get(
        f"{issuer}/.well-known/openid-configuration", timeout=settings.OIDC_TIMEOUT
    )
    answer.raise_for_status()
    document = answer.json()
    if document.get("issuer", "").rstrip("/") != issuer:
        raise SuspiciousOperation("The discovery document names another issuer.")
    return document


def provider() -> dict:
    """The provider's discovery document (fetched once per process)."""
    return _discovery(settings.OIDC_ISSUER)


def group_roles() -> list[tuple[str, str]]:
    """CARE_SSO_GROUP_ROLES as (group, role) pairs, in the administrator's order."""
    pairs = []
    for item in settings.CARE_SSO_GROUP_ROLES.split(","):
        group, _, role = item.strip().rpartition("=")
        if group and role in Role.values and role != Role.SYSTEM:
            pairs.append((group.strip(), role))
    return pairs


def role_for_groups(groups: list[str]) -> str | None:
    """The role the first listed group of theirs maps to; None when none is listed."""
    held = set(groups)
    return next((role for group, role in group_roles() if group in held), None)


def groups_of(claims: dict) -> list[str]:
    groups = claims.get(settings.CARE_SSO_GROUPS_CLAIM) or []
    if isinstance(groups, str):
        groups = [groups]
    return [str(g) for g in groups if isinstance(g, str | int)][:200]


def refuse(request: HttpRequest, *, reason: str, subject: str = "", **details) -> None:
    """Audit a refused provider sign-in and leave the reason for the callback's page."""
    request.care_sso_refusal = reason
    with transaction.atomic():
        record_audit(
            actor=None,
            action=SSO_REFUSED,
            object_type="accounts.sso_identity",
            object_id=subject[:64],
            after={"reason": reason, **details},
        )


class CityIdentityBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's backend, with the endpoints from discovery and the checks above.

    Django asks every backend on every sign-in: this one answers only the provider's callback
    (a code and a state), and reads nothing from the network before that.
    """

    def __init__(self, *args, **kwargs) -> None:
        self.UserModel = User

    def authenticate(self, request, **kwargs):
        if request is None or not enabled() or "code" not in request.GET:
            return None
        document = provider()
        self.OIDC_OP_TOKEN_ENDPOINT = document["token_endpoint"]
        self.OIDC_OP_USER_ENDPOINT = document["userinfo_endpoint"]
        self.OIDC_OP_JWKS_ENDPOINT = document["jwks_uri"]
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = None
        return super().authenticate(request, **kwargs)

    def _verify_jws(self, payload, key):
        """Signature, expiry, issuer and audience: the library checks only the first two."""
        try:
            return jwt.decode(
                payload,
                key,
                algorithms=[self.OIDC_RP_SIGN_ALGO],
                audience=settings.OIDC_RP_CLIENT_ID,
                issuer=settings.OIDC_ISSUER,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
                leeway=30,
            )
        except jwt.PyJWTError as exc:
            raise SuspiciousOperation(f"The ID token was refused: {exc}") from exc

    def verify_token(self, token, **kwargs):
        try:
            return super().verify_token(token, **kwargs)
        except SuspiciousOperation as exc:
            refuse(self.request, reason="id_token", detail=str(exc)[:200])
            raise

    def get_userinfo(self, access_token, id_token, payload):
        """The userinfo answer joined to the ID token's claims, for the same subject only."""
        userinfo = super().get_userinfo(access_token, id_token, payload)
        if userinfo.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("The userinfo answer is about another person.")
        return {**payload, **userinfo}

    def verify_claims(self, claims) -> bool:
        return bool(claims.get("sub"))

    def filter_users_by_claims(self, claims):
        return User.objects.filter(
            sso_identity__issuer=settings.OIDC_ISSUER, sso_identity__subject=claims["sub"]
        )

    def create_user(self, claims):
        groups = groups_of(claims)
        role = role_for_groups(groups)
        if role is None:
            refuse(self.request, reason="no_role", subject=claims["sub"], groups=groups)
            return None
        with transaction.atomic():
            user = User(username=_free_username(claims), role=role)
            _copy_profile(user, claims)
            _apply_role(user, role)
            user.set_unusable_password()  # people from the provider never sign in locally
            user.save()
            SsoIdentity.objects.create(
                user=user,
                issuer=settings.OIDC_ISSUER,
                subject=claims["sub"],
                groups=groups,
                last_sign_in_at=timezone.now(),
            )
            record_audit(
                actor=None, action="accounts.created_by_sso", obj=user, after={"role": role}
            )
        return user

    def update_user(self, user, claims):
        """Every sign-in applies the groups they hold now: a removed group takes its role away
        (the save's signal ends their tokens and sockets), no listed group deactivates them."""
        groups = groups_of(claims)
        role = role_for_groups(groups)
        identity = user.sso_identity
        with transaction.atomic():
            identity.groups, identity.last_sign_in_at = groups, timezone.now()
            if role is None:
                _suspend(user, identity)
            elif user.is_active or identity.suspended_by_idp:
                user.is_active, identity.suspended_by_idp = True, False
                _copy_profile(user, claims)
                _apply_role(user, role)
                user.save()
            identity.save()
        if role is None:
            refuse(self.request, reason="no_role", subject=claims["sub"], groups=groups)
            return None
        return user


def _suspend(user: User, identity: SsoIdentity) -> None:
    """Only a person active here is suspended (and marked so): one an administrator deactivated
    stays deactivated whatever their groups become."""
    if user.is_active:
        user.is_active = False
        user.save()  # the signal revokes their devices, as deactivation does
        identity.suspended_by_idp = True


def _apply_role(user: User, role: str) -> None:
    user.role = role
    user.is_staff = user.is_superuser = role == Role.ADMIN
    kind = UNIT_KIND_OF_ROLE.get(role)
    if user.unit_id is not None and (kind is None or user.unit.kind != kind):
        user.unit = None  # a roster puts them on a unit of their new kind


def _copy_profile(user: User, claims: dict) -> None:
    user.email = str(claims.get("email") or "")[:254]
    user.first_name = str(claims.get("given_name") or "")[:150]
    user.last_name = str(claims.get("family_name") or "")[:150]


def _free_username(claims: dict) -> str:
    """Their provider username, unless a local account has it (a provider's `admin` must never
    become ours): then a suffix that names the provider."""
    wanted = str(claims.get("preferred_username") or claims.get("email") or claims["sub"])[:120]
    name, n = wanted, 1
    while User.objects.filter(username=name).exists():
        name, n = f"{wanted}@sso{'' if n == 1 else n}", n + 1
    return name


def end_session_url(request: HttpRequest) -> str | None:
    """Where to send a person signing out of a provider's session, so the provider's ends too."""
    if request.session.get(SIGNED_IN_BY) != "idp" or not enabled():
        return None
    endpoint = provider().get("end_session_endpoint")
    if not endpoint:
        return None
    query = {
        "client_id": settings.OIDC_RP_CLIENT_ID,
        "post_logout_redirect_uri": request.build_absolute_uri(reverse("login")),
    }
    if request.session.get("oidc_id_token"):
        query["id_token_hint"] = request.session["oidc_id_token"]
    return f"{endpoint}?{urlencode(query)}"


def landing_page(user: User) -> str:
    """Each role lands on its own console; anyone else on the home page."""
    role = Role.ADMIN if user.is_superuser else user.role
    return {Role.DISPATCHER: "/dispatch/", Role.COORDINATOR: "/coordinator/"}.get(
        role, "/admin/" if role == Role.ADMIN else "/"
    )
