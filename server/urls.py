from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

from server.accounts import api as accounts_api
from server.accounts import enrolment_api, passkey_views, second_factor_views, sso_views
from server.accounts import views as accounts_views
from server.care import api as care_api
from server.care import views as care_views
from server.dispatch import views as dispatch_views
from server.dispatch.incidents import api as dispatch_api
from server.dispatch.safety import api as safety_api
from server.dispatch.safety import views as safety_views
from server.dispatch.units import api as roster_api
from server.dispatch.units import api as unit_api
from server.interop import api as interop_api
from server.interop import directory_api, fhir_api
from server.planner import views as planner_views
from server.reports import api as reports_api
from server.reports import peer_api, police_only_views
from server.reports import views as reports_views
from server.sync import api as sync_api
from server.sync import protocol as sync_protocol
from server.views import home

api_v1 = [
    path("auth/token", accounts_api.TokenView.as_view(), name="auth-token"),
    path("auth/token/rotate", accounts_api.RotateTokenView.as_view(), name="auth-token-rotate"),
    path("auth/logout", accounts_api.SignOutView.as_view(), name="auth-logout"),
    path("me", accounts_api.MeView.as_view(), name="me"),
    path("tablets/enrol", enrolment_api.EnrolView.as_view(), name="tablet-enrol"),
    path(
        "tablets/enrolment-codes",
        enrolment_api.EnrolmentCodeView.as_view(),
        name="tablet-enrolment-codes",
    ),
    path("protocol", sync_protocol.ProtocolView.as_view(), name="protocol"),
    path("units", unit_api.UnitListView.as_view(), name="units"),
    path(
        "units/<int:unit_id>/position",
        unit_api.UnitPositionView.as_view(),
        name="unit-position",
    ),
    path("incidents", dispatch_api.IncidentListView.as_view(), name="incidents"),
    path(
        "incidents/<uuid:incident_id>/suggested-units",
        dispatch_api.SuggestedUnitsView.as_view(),
        name="incident-suggested-units",
    ),
    path(
        "incidents/<uuid:incident_id>/locate",
        dispatch_api.LocateView.as_view(),
        name="incident-locate",
    ),
    path("geocode", dispatch_api.GeocodeView.as_view(), name="geocode"),
    path("screen-point", dispatch_api.ScreenPointView.as_view(), name="screen-point"),
    path(
        "incidents/<uuid:incident_id>",
        dispatch_api.IncidentDetailView.as_view(),
        name="incident-detail",
    ),
    path(
        "incidents/<uuid:incident_id>/eido",
        interop_api.IncidentEidoView.as_view(),
        name="incident-eido",
    ),
    path("eido", interop_api.EidoInboundView.as_view(), name="eido"),
    # NENA-STA-021's own path for dereferencing an incident's EIDO.
    path(
        "EIDO/<str:incident_id>",
        interop_api.EidoDereferenceView.as_view(),
        name="eido-dereference",
    ),
    path(
        "incidents/<uuid:incident_id>/dispatch",
        dispatch_api.DispatchView.as_view(),
        name="incident-dispatch",
    ),
    path(
        "incidents/<uuid:incident_id>/cancel",
        dispatch_api.CancelView.as_view(),
        name="incident-cancel",
    ),
    path(
        "incidents/<uuid:incident_id>/resolve-by-phone",
        dispatch_api.ResolveByPhoneView.as_view(),
        name="incident-resolve-by-phone",
    ),
    path(
        "incidents/<uuid:incident_id>/refer-to-hotline",
        dispatch_api.ReferToHotlineView.as_view(),
        name="incident-refer-to-hotline",
    ),
    path("assignments", dispatch_api.AssignmentListView.as_view(), name="assignments"),
    path(
        "assignments/<uuid:assignment_id>",
        dispatch_api.AssignmentDetailView.as_view(),
        name="assignment-detail",
    ),
    path(
        "assignments/<uuid:assignment_id>/transitions",
        dispatch_api.TransitionView.as_view(),
        name="assignment-transitions",
    ),
    path("shifts", safety_api.ShiftListView.as_view(), name="shifts"),
    path("shifts/<uuid:shift_id>/end", safety_api.ShiftEndView.as_view(), name="shift-end"),
    path("rosters", roster_api.RosterView.as_view(), name="rosters"),
    path(
        "rosters/<uuid:entry_id>/cancel",
        roster_api.RosterCancelView.as_view(),
        name="roster-cancel",
    ),
    path("sign-on-requests", roster_api.SignOnRequestView.as_view(), name="sign-on-requests"),
    path(
        "sign-on-requests/<uuid:request_id>/decide",
        roster_api.SignOnDecisionView.as_view(),
        name="sign-on-request-decide",
    ),
    path(
        "units/<int:unit_id>/duty-status",
        safety_api.DutyStatusView.as_view(),
        name="unit-duty-status",
    ),
    path("emergencies", safety_api.EmergencyListView.as_view(), name="emergencies"),
    path(
        "emergencies/<uuid:emergency_id>/acknowledge",
        safety_api.EmergencyAcknowledgeView.as_view(),
        name="emergency-acknowledge",
    ),
    path(
        "emergencies/<uuid:emergency_id>/end",
        safety_api.EmergencyEndView.as_view(),
        name="emergency-end",
    ),
    path(
        "assignments/<uuid:assignment_id>/backup",
        safety_api.BackupView.as_view(),
        name="assignment-backup",
    ),
    path(
        "incidents/<uuid:incident_id>/backup",
        safety_api.SendBackupView.as_view(),
        name="incident-send-backup",
    ),
    path(
        "assignments/<uuid:assignment_id>/check-ins",
        safety_api.CheckInView.as_view(),
        name="assignment-check-ins",
    ),
    path(
        "check-in-alerts/<int:lapse_id>/clear",
        safety_api.LapseClearView.as_view(),
        name="check-in-alert-clear",
    ),
    path(
        "incidents/<uuid:incident_id>/cautions",
        safety_api.CautionsView.as_view(),
        name="incident-cautions",
    ),
    path("directory/services", care_api.DirectoryView.as_view(), name="directory-services"),
    path("directory.hsds.json", directory_api.HsdsDirectoryView.as_view(), name="directory-hsds"),
    path(
        "encounters/<uuid:encounter_id>", care_api.EncounterView.as_view(), name="encounter-detail"
    ),
    path("services-given", care_api.ServiceGivenView.as_view(), name="services-given"),
    path(
        "services-given/<uuid:service_id>",
        care_api.ServiceGivenDetailView.as_view(),
        name="service-given-detail",
    ),
    path("naloxone-administrations", care_api.NaloxoneView.as_view(), name="naloxone"),
    path(
        "naloxone-administrations/<uuid:administration_id>",
        care_api.NaloxoneDetailView.as_view(),
        name="naloxone-detail",
    ),
    path("referrals", care_api.ReferralListView.as_view(), name="referrals"),
    path(
        "referrals/<uuid:referral_id>",
        care_api.ReferralDetailView.as_view(),
        name="referral-detail",
    ),
    path("surveys", care_api.SurveyView.as_view(), name="surveys"),
    path("sync/pull", sync_api.PullView.as_view(), name="sync-pull"),
    path("sync/push", sync_api.PushView.as_view(), name="sync-push"),
    path("sync/snapshot", sync_api.SnapshotView.as_view(), name="sync-snapshot"),
    path("metrics", reports_api.MetricsView.as_view(), name="metrics"),
    path("metrics/peer", peer_api.PeerMetricsView.as_view(), name="metrics-peer"),
    path("schema/", SpectacularAPIView.as_view(permission_classes=[AllowAny]), name="schema"),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(url_name="schema", permission_classes=[AllowAny]),
        name="docs",
    ),
]

urlpatterns = [
    path("", home, name="home"),
    path("dashboard/", reports_views.dashboard, name="dashboard"),
    path("dashboard.csv", reports_views.dashboard_csv, name="dashboard-csv"),
    path("login/", accounts_views.SignInView.as_view(), name="login"),
    path("logout/", accounts_views.SignOutPageView.as_view(), name="logout"),
    path("login/sso/", sso_views.SsoStartView.as_view(), name="sso-start"),
    path("login/sso/callback/", sso_views.SsoCallbackView.as_view(), name="sso-callback"),
    path("login/enrol/", second_factor_views.enrol, name="mfa-enrol"),
    path("login/verify/", second_factor_views.verify, name="mfa-verify"),
    path("login/unlock/", second_factor_views.unlock, name="session-unlock"),
    path("login/passkey/", include(passkey_views.ceremony_urls, namespace="otp_webauthn")),
    path("login/recovery-codes/", passkey_views.recovery_codes, name="mfa-recovery-codes"),
    path("account/second-factor/", passkey_views.second_factor_page, name="second-factor"),
    path(
        "account/second-factor/passkeys/<int:passkey_id>/remove",
        passkey_views.remove_passkey,
        name="passkey-remove",
    ),
    path("dispatch/", dispatch_views.board, name="dispatch-board"),
    path("dispatch/board/", dispatch_views.board_fragment, name="dispatch-board-fragment"),
    path("dispatch/map/layers.json", dispatch_views.map_layers, name="dispatch-map-layers"),
    path("dispatch/map/state.json", dispatch_views.map_state, name="dispatch-map-state"),
    path("dispatch/console-token", dispatch_views.console_token, name="dispatch-console-token"),
    path("dispatch/calls/new", dispatch_views.new_call, name="dispatch-new-call"),
    path("dispatch/calls/<uuid:incident_id>/", dispatch_views.call_page, name="dispatch-call"),
    path(
        "dispatch/emergencies/<uuid:emergency_id>/acknowledge",
        safety_views.acknowledge_emergency,
        name="dispatch-emergency-acknowledge",
    ),
    path(
        "dispatch/emergencies/<uuid:emergency_id>/end",
        safety_views.end_emergency,
        name="dispatch-emergency-end",
    ),
    path(
        "dispatch/check-in-alerts/<int:lapse_id>/clear",
        safety_views.clear_lapse,
        name="dispatch-check-in-alert-clear",
    ),
    path(
        "dispatch/sign-on-requests/<uuid:request_id>/decide",
        safety_views.decide_sign_on_request,
        name="dispatch-sign-on-request-decide",
    ),
    path("reports/police-only/", police_only_views.police_only_page, name="police-only-report"),
    path("planner/", planner_views.planner_page, name="planner"),
    path("planner/run", planner_views.run_scenario, name="planner-run"),
    path("planner/validate", planner_views.run_validation, name="planner-validate"),
    path("planner/histories/program", planner_views.program_history, name="planner-program"),
    path("planner/scenarios", planner_views.save_scenario, name="planner-scenario"),
    path("planner/run.csv", planner_views.run_csv, name="planner-run-csv"),
    path("coordinator/", care_views.referral_queue, name="coordinator"),
    path("coordinator/console-token", care_views.console_token, name="coordinator-console-token"),
    path(
        "coordinator/referrals/<uuid:referral_id>/", care_views.referral_page, name="referral-page"
    ),
    path("admin/", admin.site.urls),
    path("fhir/Task", fhir_api.TaskSearchView.as_view(), name="fhir-task-search"),
    path("fhir/Task/<uuid:referral_id>", fhir_api.TaskView.as_view(), name="fhir-task"),
    path(
        "fhir/ServiceRequest/<uuid:referral_id>",
        fhir_api.ServiceRequestView.as_view(),
        name="fhir-service-request",
    ),
    path("fhir/Consent/<uuid:referral_id>", fhir_api.ConsentView.as_view(), name="fhir-consent"),
    path("fhir/Bundle/<uuid:referral_id>", fhir_api.BundleView.as_view(), name="fhir-bundle"),
    *[path(f"api/v1/{p.pattern}", p.callback, name=p.name) for p in api_v1],
]

handler404 = "server.errors.json_404"
handler500 = "server.errors.json_500"
