import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_asgi_application()

# The same hot paths as config.wsgi (safetrain.core.hotpath), in front of Django's ASGI application.
from safetrain.core.hotpath.asgi import HotPathASGI  # noqa: E402  (needs the settings loaded above)

application = HotPathASGI(django_application)
