import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()

# Heartbeats and exam answers are answered before the page stack (safetrain.core.hotpath); every other request,
# and every one of those that is not the plain case, is Django's. Every request is counted and timed for /metrics.
from safetrain.core.hotpath.dispatch import HotPath  # noqa: E402  (needs the settings loaded above)
from safetrain.core.metrics import RequestMetrics  # noqa: E402

hot_path = HotPath(django_application)
application = RequestMetrics(hot_path)
