"""A small OpenID Connect provider for the sign-in tests: django-oauth-toolkit's OIDC provider
with an RS256 key made at start, run as its own process (`python -m tests.idp.serve`)."""
