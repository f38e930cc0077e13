import json

from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.models import get_application_model

from tests.idp import claims


@csrf_exempt
def person(request: HttpRequest) -> JsonResponse:
    """Create or change a person and their groups (the tests' stand-in for the IdP's admin)."""
    body = json.loads(request.body)
    user, _ = get_user_model().objects.get_or_create(username=body["username"])
    user.email = body.get("email", f"{body['username']}@city.example")
    user.first_name = body.get("given_name", "")
    user.set_password(body["password"])
    user.save()
    claims.GROUPS[user.username] = list(body.get("groups", []))
    return JsonResponse({"id": user.pk})


@csrf_exempt
def client(request: HttpRequest) -> JsonResponse:
    """Register the relying party (CARE Field) with its callback and post-logout addresses."""
    body = json.loads(request.body)
    model = get_application_model()
    model.objects.filter(client_id=body["client_id"]).delete()
    model.objects.create(
        name="CARE Field",
        client_id=body["client_id"],
        client_secret=body["client_secret"],
        client_type=model.CLIENT_CONFIDENTIAL,
        authorization_grant_type=model.GRANT_AUTHORIZATION_CODE,
        redirect_uris=" ".join(body["redirect_uris"]),
        post_logout_redirect_uris=" ".join(body.get("post_logout_redirect_uris", [])),
        algorithm=model.RS256_ALGORITHM,
        skip_authorization=True,
    )
    return JsonResponse({"client_id": body["client_id"]})


@csrf_exempt
def faults(request: HttpRequest) -> JsonResponse:
    claims.FAULTS.clear()
    claims.FAULTS.update(json.loads(request.body or b"{}"))
    return JsonResponse(claims.FAULTS)


urlpatterns = [
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("control/people", person),
    path("control/client", client),
    path("control/faults", faults),
]
