"""The site's URLs plus views that fail on purpose, for the error-page tests."""

from django.db import OperationalError
from django.urls import path
from redis.exceptions import ConnectionError as RedisConnectionError

from config.urls import handler400, handler403, handler404, handler500, urlpatterns  # noqa: F401


def database_down(request):
    raise OperationalError('connection to server at "127.0.0.1", port 5432 failed: Connection refused')


def redis_down(request):
    try:
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
    except RedisConnectionError as exc:
        raise RuntimeError("cache failed") from exc


def bug(request):
    raise ZeroDivisionError("a bug")


urlpatterns = [
    path("boom/database", database_down),
    path("boom/redis", redis_down),
    path("boom/bug", bug),
    path("api/v1/boom/database", database_down),
    path("api/v1/boom/bug", bug),
    *urlpatterns,
]
