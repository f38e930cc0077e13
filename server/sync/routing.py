from django.urls import path

from server.sync import consumers

websocket_urlpatterns = [
    path("ws/feed/", consumers.FeedConsumer.as_asgi()),
]
