import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()

# Heartbeats of playing pages skip the page stack (safetrain.learning.fastpath); every other request is Django's.
from safetrain.learning.fastpath import HeartbeatFastPath  # noqa: E402  (needs the settings loaded above)

application = HeartbeatFastPath(django_application)
