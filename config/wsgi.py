import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()

# Heartbeats of playing pages skip the page stack (safetrain.learning.fastpath); every other request is Django's.
from safetrain.core.metrics import RequestMetrics  # noqa: E402  (needs the settings loaded above)
from safetrain.learning.fastpath import HeartbeatFastPath  # noqa: E402

# Every request is counted and timed for /metrics, the fast path's heartbeats too.
heartbeat_fast_path = HeartbeatFastPath(django_application)
application = RequestMetrics(heartbeat_fast_path)
