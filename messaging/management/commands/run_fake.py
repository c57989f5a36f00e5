"""manage.py run_fake SLUG [--port N] [--api-key K]: serve a provider fake for demos and browser tests.

The fakes live in tests/fakes/<slug>.py (stateful, written from the vendors' docs).
Point an account's base URL at the printed address to try the real client without
credentials or network. For local use only: it listens on 127.0.0.1.
"""

from __future__ import annotations

import importlib
import inspect
import re
import time

from django.core.management.base import BaseCommand, CommandError


def find_fake_class(slug: str):
    """The one FakeAPI subclass defined in tests/fakes/<slug>.py, or CommandError saying why not."""
    if not re.fullmatch(r"[a-z0-9_]+", slug):
        raise CommandError(f"{slug!r} is not a provider slug.")
    try:
        from tests.fakes.base import FakeAPI
    except ImportError:
        raise CommandError("The provider fakes (tests/fakes/) are not in this installation.") from None
    try:
        module = importlib.import_module(f"tests.fakes.{slug}")
    except ModuleNotFoundError as exc:
        if exc.name == f"tests.fakes.{slug}":
            raise CommandError(
                f"There is no fake for {slug!r} yet (expected tests/fakes/{slug}.py)."
            ) from None
        raise
    classes = [
        value
        for value in vars(module).values()
        if inspect.isclass(value) and issubclass(value, FakeAPI) and value.__module__ == module.__name__
    ]
    if len(classes) != 1:
        names = ", ".join(c.__name__ for c in classes) or "none"
        raise CommandError(
            f"tests/fakes/{slug}.py should define exactly one FakeAPI subclass (found: {names})."
        )
    return classes[0]


class Command(BaseCommand):
    help = "Serve the fake of a provider's API on 127.0.0.1 (for demos and browser tests)."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="Provider slug, e.g. qlara, spoki, myoperator, spryng.")
        parser.add_argument("--port", type=int, default=0, help="Port to listen on (default: any free port).")
        parser.add_argument(
            "--api-key", default=None, help="The API key the fake accepts (its default otherwise)."
        )

    def handle(self, *args, slug, port, api_key, **options):
        from tests.fakes.base import serve

        fake_class = find_fake_class(slug)
        fake = fake_class(api_key=api_key) if api_key is not None else fake_class()
        running = serve(fake, host="127.0.0.1", port=port)
        key = getattr(fake, "api_key", None)
        self.stdout.write(f"Serving the {slug} fake at {running.url}" + (f" (API key: {key})" if key else ""))
        self.stdout.write("Use that address as the account's base URL. Ctrl-C stops it.")
        self.stdout.flush()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            running.stop()
