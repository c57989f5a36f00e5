import pytest

from messaging.webhooks.group_commit import stop_writer
from messaging.webhooks.receive import forget_accounts


@pytest.fixture(autouse=True)
def _webhook_settings(settings):
    # Tests drain explicitly; no nudge to a worker from the receiving view.
    settings.WEBHOOK_KICK_SECONDS = 0
    settings.SWITCHBOARD_PUBLIC_URL = "https://sb.example.com"
    forget_accounts()
    yield
    forget_accounts()
    stop_writer()  # its connection must not outlive the test database
