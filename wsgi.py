"""WSGI entry point from a source checkout: `gunicorn wsgi:app` (installed: `app.wsgi:app`)."""

from app.wsgi import app  # noqa: F401
