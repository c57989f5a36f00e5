"""Settings for bench/webhook_bench.py: the project's, plus a trivial view to measure the ceiling."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.bench_urls"
