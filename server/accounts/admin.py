from contextvars import ContextVar

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.contrib.auth.models import Group
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.cache import patch_cache_control
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnAttestation, WebAuthnCredential, WebAuthnUserHandle

from server.accounts import enrolment, enrolment_api, mfa, services, system_clients
from server.accounts.forms import AdminSignInForm
from server.accounts.models import Device, DeviceToken, SsoIdentity, SystemClient, Tablet, User
from server.errors import CareFieldError

admin.site.login_form = AdminSignInForm
admin.site.login_template = "accounts/admin_login.html"
# Second factors (apps, recovery codes, passkeys) are set up and removed by their person and
# reset by another administrator (an audited action on people), never edited as rows.
# Groups and their permissions are not how the program decides who may do what (roles and each
# app's policies are): no page edits them.
for _model in (
    TOTPDevice,
    StaticDevice,
    WebAuthnCredential,
    WebAuthnAttestation,
    WebAuthnUserHandle,
    Group,
):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


# Who is on the password page: Django builds its form, which saves through `save_person` (audited
# like any change to a person) and needs to name them.
_password_setter: ContextVar[User | None] = ContextVar("password_setter", default=None)


class PasswordThroughSavePerson(AdminPasswordChangeForm):
    """The admin's password page, stored as any other change to a person: with an audit row
    (the password itself never in it)."""

    def save(self, commit: bool = True) -> User:
        user = super().save(commit=False)
        if commit:
            actor = _password_setter.get()
            services.save_person(actor=actor, user=user, changed=["password"], created=False)
        return user


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = (
        "username",
        "get_full_name",
        "role",
        "unit",
        "is_active",
        "last_login",
        "locked_until",
    )
    list_filter = ("role", "unit", "is_active", "is_staff")
    search_fields = ("username", "first_name", "last_name", "email")
    fieldsets = (*DjangoUserAdmin.fieldsets, ("CARE Field", {"fields": ("role", "unit")}))
    add_fieldsets = (*DjangoUserAdmin.add_fieldsets, ("CARE Field", {"fields": ("role",)}))
    # The unit someone rides with is set by signing on (a shift, from a roster), never typed
    # here: a form that set it would open a unit's stream without a shift or an audit row.
    readonly_fields = ("unit",)
    actions = ["unlock", "deactivate", "reset_second_factor"]
    change_password_form = PasswordThroughSavePerson

    def user_change_password(self, request, id, form_url=""):
        token = _password_setter.set(request.user)
        try:
            return super().user_change_password(request, id, form_url)
        finally:
            _password_setter.reset(token)

    def save_model(self, request, obj: User, form, change: bool) -> None:
        services.save_person(
            actor=request.user, user=obj, changed=list(form.changed_data), created=not change
        )

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # audit rows name people: deactivate instead

    @admin.display(description="Locked until")
    def locked_until(self, obj: User) -> str:
        until = services.locked_until(username=obj.get_username())
        return timezone.localtime(until).strftime("%H:%M:%S") if until else ""

    @admin.action(description="Deactivate the selected people (revokes their devices at once)")
    def deactivate(self, request, queryset):
        people = [user for user in queryset if user.is_active]
        for user in people:
            services.deactivate_person(actor=request.user, user=user)
        self.message_user(request, f"Deactivated {len(people)} person(s).", messages.SUCCESS)

    @admin.action(description="Reset the second factor of the selected people")
    def reset_second_factor(self, request, queryset):
        for user in queryset:
            try:
                mfa.reset_second_factor(actor=request.user, user=user)
            except CareFieldError as exc:
                self.message_user(request, f"{user.username}: {exc.detail}", messages.ERROR)
                continue
            self.message_user(request, f"{user.username} sets up a new one at next sign-in.")

    @admin.action(description="Unlock the selected people after failed sign-ins")
    def unlock(self, request, queryset):
        for user in queryset:
            services.unlock_user(actor=request.user, user=user)
        self.message_user(request, f"Unlocked {queryset.count()} person(s).", messages.SUCCESS)


class DeviceTokenInline(admin.TabularInline):
    model = DeviceToken
    fields = ("created_at", "expires_at", "revoked_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "user",
        "created_at",
        "last_seen_at",
        "revoked_at",
        "clock_skew_seconds",
        "clock_skew_flagged",
    )
    list_filter = ("clock_skew_flagged", ("revoked_at", admin.EmptyFieldListFilter), "user__role")
    search_fields = ("name", "user__username")
    readonly_fields = (
        "id",
        "user",
        "name",
        "created_at",
        "last_seen_at",
        "revoked_at",
        "revoked_reason",
        "clock_skew_seconds",
        "clock_skew_flagged",
    )
    inlines = [DeviceTokenInline]
    actions = ["revoke"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # read here; revoked through the action

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # audit rows name devices: revoke instead

    @admin.action(description="Revoke the selected devices (kills their tokens)")
    def revoke(self, request, queryset):
        for device in queryset:
            services.revoke_device(actor=request.user, device=device, reason="revoked in admin")
        self.message_user(request, f"Revoked {queryset.count()} device(s).", messages.SUCCESS)

    def has_add_permission(self, request) -> bool:
        return False  # devices come from signing in on them


@admin.register(SystemClient)
class SystemClientAdmin(admin.ModelAdmin):
    """Issue, rotate and revoke the keys a CAD or a partner calls with. A new key is shown once,
    on the page that answers the add or the rotation, and never again: never in a message (the
    messages cookie is signed, not encrypted), a redirect, a log or the audit trail."""

    list_display = (
        "name",
        "kind",
        "scope",
        "organization_id",
        "active",
        "key_prefix",
        "created_at",
        "rotated_at",
        "revoked_at",
    )
    list_filter = ("kind", "active", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "key_prefix", "organization_id")
    readonly_fields = ("key_prefix", "scope", "created_at", "rotated_at", "revoked_at")
    fields = ("kind", "name", "organization_id", *readonly_fields)
    actions = ["rotate", "revoke"]

    def get_readonly_fields(self, request, obj=None):
        # Kind and name are fixed once issued: a CAD's key never turns into a partner's.
        return ("kind", "name", *self.readonly_fields) if obj else self.readonly_fields

    def save_model(self, request, obj, form, change) -> None:
        if change:
            return  # nothing editable once issued but through the actions
        client, key = system_clients.create_system_client(
            actor=request.user,
            kind=obj.kind,
            name=obj.name,
            organization_id=obj.organization_id,
        )
        obj.pk = client.pk
        request.care_new_keys = [(client, key)]  # for response_add, on this request only

    def response_add(self, request, obj, post_url_continue=None):
        return _new_keys_page(request, getattr(request, "care_new_keys", []))

    @admin.action(description="Rotate the key of the selected clients (old keys stop at once)")
    def rotate(self, request, queryset):
        issued = []
        for client in queryset:
            try:
                issued.append(
                    (client, system_clients.rotate_key(actor=request.user, client=client))
                )
            except CareFieldError as exc:
                self.message_user(request, f"{client.name}: {exc.detail}", messages.ERROR)
        return _new_keys_page(request, issued) if issued else None

    @admin.action(description="Revoke the selected clients (their keys stop for good)")
    def revoke(self, request, queryset):
        for client in queryset:
            system_clients.revoke(actor=request.user, client=client, reason="revoked in admin")
        self.message_user(request, f"Revoked {queryset.count()} client(s).", messages.SUCCESS)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # audit rows name clients; revoke instead


def _new_keys_page(request, issued: list) -> TemplateResponse:
    """The new keys, in this answer only, kept by no cache."""
    context = {
        **admin.site.each_context(request),
        "title": "Copy the new key now",
        "issued": issued,
    }
    response = TemplateResponse(request, "accounts/new_system_client_keys.html", context)
    patch_cache_control(response, no_store=True, private=True)
    return response


@admin.register(SsoIdentity)
class SsoIdentityAdmin(admin.ModelAdmin):
    list_display = ("user", "issuer", "subject", "suspended_by_idp", "last_sign_in_at")
    list_filter = ("suspended_by_idp",)
    search_fields = ("user__username", "subject")
    readonly_fields = ("user", "issuer", "subject", "groups", "suspended_by_idp", "last_sign_in_at")

    def has_add_permission(self, request) -> bool:
        return False  # made by signing in through the provider

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the provider suspends or removes the person


@admin.register(Tablet)
class TabletAdmin(admin.ModelAdmin):
    """Enrolled tablets: make a one-time code (with its QR) to enrol one; revoke a lost one."""

    list_display = ("name", "enrolled_at", "enrolled_by", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("name",)
    readonly_fields = ("id", "name", "enrolled_at", "enrolled_by", "revoked_at")
    actions = ["revoke"]

    def get_urls(self):
        code_page = self.admin_site.admin_view(self.enrolment_code)
        own = path("enrolment-code/", code_page, name="accounts_tablet_enrolment_code")
        return [own, *super().get_urls()]

    def enrolment_code(self, request):
        """POST: a new code, shown once with its QR for the tablet to scan."""
        if request.method != "POST":
            context = {**self.admin_site.each_context(request), "code": None}
            return TemplateResponse(request, "accounts/enrolment_code.html", context)
        code, made = enrolment.create_code(actor=request.user)
        context = {
            **self.admin_site.each_context(request),
            "code": code,
            "qr": enrolment_api.qr_svg(code),
            "expires_at": made.expires_at,
        }
        return TemplateResponse(request, "accounts/enrolment_code.html", context)

    @admin.action(description="Revoke the selected tablets (every sign-in on them ends)")
    def revoke(self, request, queryset):
        for tablet in queryset:
            enrolment.revoke_tablet(actor=request.user, tablet=tablet, reason="revoked in admin")
        self.message_user(request, f"Revoked {queryset.count()} tablet(s).", messages.SUCCESS)

    def has_add_permission(self, request) -> bool:
        return False  # a tablet enrols itself with a code

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # read here; revoked through the action

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
