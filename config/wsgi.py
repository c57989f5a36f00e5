import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# /hooks/<token>/ is served before Django's middleware (messaging/webhooks/views.py says why).
from messaging.webhooks.views import WebhookWSGI  # noqa: E402

application = WebhookWSGI(application)
