"""Gunicorn settings for Tepat: ``gunicorn -c app/gunicorn.conf.py`` (see docs/SCALE.md).

Several worker processes share nothing but PostgreSQL and Redis (``TEPAT_REDIS_URL``: rate
limits, the desk cache, the label print queue), so any worker can answer any request and a
restart loses nothing. Threads per worker let one slow desk page not block scans.
Every value can be overridden on the command line or with ``GUNICORN_CMD_ARGS``.
"""

import multiprocessing
import os

wsgi_app = "app:create_app()"
bind = os.environ.get("TEPAT_BIND", "127.0.0.1:8000")
# Two per core plus one (gunicorn's rule of thumb); at least two so a restart is seamless.
workers = int(os.environ.get("TEPAT_WORKERS", max(2, multiprocessing.cpu_count() * 2 + 1)))
worker_class = "gthread"
threads = int(os.environ.get("TEPAT_THREADS", 4))
# A batch of 500 scans takes up to seconds (500 kits carry ~35,000 items: bench_scale), a
# province page a few. Kill stuck workers.
timeout = 120
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then (memory of long-lived caches), staggered.
max_requests = 5000
max_requests_jitter = 500
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("TEPAT_LOG_LEVEL", "info")
# Behind nginx: set TEPAT_PROXY_FIX=1 (the app trusts X-Forwarded-* from one proxy).
forwarded_allow_ips = os.environ.get("TEPAT_FORWARDED_ALLOW_IPS", "127.0.0.1")


def post_worker_init(worker):
    """Compile templates, load catalogues and connect before the worker takes traffic, so
    its first request pays only for its own work (app/warmup.py)."""
    from app.warmup import warm_up

    compiled = warm_up(worker.wsgi)
    worker.log.info("worker %s warmed up: %d templates compiled", worker.pid, compiled)
