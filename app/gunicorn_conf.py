"""gunicorn's settings for Parcours: `gunicorn -c python:app.gunicorn_conf app.wsgi:app`.

On the embedded database (MONGODB_URI unset), gunicorn's master starts the server and owns it
before it forks the workers: a worker that dies (killed, out of memory, timed out) never takes
the database down, and the master starts it again on the same port if it dies. Command-line
options (`--workers`, `--bind`) override these."""

import os

bind = os.environ.get("PARCOURS_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
timeout = 60  # a request the engine's budgets bound (ENGINE_MAX_SECONDS) never comes near


def on_starting(server):
    from app.config import load_config
    from app.db import ensure_embedded

    config = load_config()
    if not config["MONGODB_URI"]:
        server.log.info("embedded database: %s", ensure_embedded(config))
