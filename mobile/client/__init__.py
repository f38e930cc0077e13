"""The tablet's core without Kivy: HTTP API client, local store, recorder, sync engine, live feed.

The screens bind to these objects; none of them imports Kivy, so all of it runs under pytest.
"""
