"""What every page needs to say about signing in: is the city's sign-in offered, is a second
factor on, and after how long a signed-in console locks itself (0: it doesn't)."""

from django.conf import settings
from django.http import HttpRequest

from server.accounts import session_locks, sso


def sign_in(request: HttpRequest) -> dict:
    return {
        "sso_enabled": sso.enabled(),
        "mfa_required": settings.CARE_MFA_REQUIRED,
        "idle_lock_ms": idle_lock_ms(request),
    }


def idle_lock_ms(request: HttpRequest) -> int:
    """The server's idle lock, for the page's own timer: on every page of a signed-in session
    except the sign-in and lock pages themselves."""
    user = getattr(request, "user", None)
    if (
        user is None
        or not user.is_authenticated
        or request.path.startswith(session_locks.OPEN_PATHS)
    ):
        return 0
    return int(settings.CARE_CONSOLE_IDLE_LOCK_MINUTES * 60 * 1000)
