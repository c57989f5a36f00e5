"""The sync engine: pull, push, matching, conflicts (see engine.py and services.py).

Importing the tasks here registers them with Celery whenever the messaging app
loads (messaging/models.py imports messaging.sync.models); tasks.py imports
nothing from Django at module level, so this is safe during app loading.
"""

from . import tasks  # noqa: F401
