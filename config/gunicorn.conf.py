"""gunicorn settings for production: `gunicorn -c config/gunicorn.conf.py config.wsgi`.

The request time limit comes from REQUEST_TIME_LIMIT_SECONDS (the same variable Django's
settings read): a request still running after it is killed and its worker replaced, so no
request can hold a worker for longer. Headers are bounded so an oversized request is refused
before Django sees it.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
# Threads, not one request per process: /hooks/ shares each durable commit among the requests a
# process holds at once (messaging/webhooks/group_commit.py), so it needs many of them in flight.
# Measured on 2 cores (bench/webhook_bench.py): 2 workers did better than 3 (more processes split
# the batches); 64 threads batch twice as many rows per commit as 32 at the same CPU. The default
# stays 32 because a thread serving a Django page may hold a PostgreSQL connection of its own;
# raise GUNICORN_THREADS where /hooks/ dominates and max_connections allows.
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", "32"))
# Providers open one connection per call; a short keep-alive still serves those that reuse one.
keepalive = 5
timeout = int(os.environ.get("REQUEST_TIME_LIMIT_SECONDS", "30"))
graceful_timeout = 10
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
# Recycle workers now and then, so a slow leak never grows a process for long. Counted in
# requests: /hooks/ may take a couple of thousand a second, and a restart costs Django's start-up
# and empties the process's group-commit batches, so not every few seconds.
max_requests = 50000
max_requests_jitter = 5000
