"""What the test provider says about a person, and the faults a test can ask it to commit."""

from __future__ import annotations

import time

from oauth2_provider.oauth2_validators import OAuth2Validator

# Set through /control/faults by a test: {"audience": "someone-else"}, {"expired": True}.
FAULTS: dict = {}
# Each person's groups, set through /control/people (the provider's own table has none).
GROUPS: dict[str, list[str]] = {}


class CityClaims(OAuth2Validator):
    oidc_claim_scope = {
        **OAuth2Validator.oidc_claim_scope,
        "groups": "groups",
        "preferred_username": "profile",
    }

    def get_additional_claims(self, request) -> dict:
        user = request.user
        return {
            "preferred_username": user.username,
            "email": user.email,
            "given_name": user.first_name,
            "family_name": user.last_name,
            "groups": GROUPS.get(user.username, []),
        }

    def get_id_token_dictionary(self, token, token_handler, request):
        claims, expiration_time = super().get_id_token_dictionary(token, token_handler, request)
        if FAULTS.get("audience"):
            claims["aud"] = FAULTS["audience"]
        if FAULTS.get("expired"):
            claims["iat"] = int(time.time()) - 7200
            claims["exp"] = int(time.time()) - 3600
        return claims, expiration_time
