"""WSGI entry point of an installed Parcours: `gunicorn app.wsgi:app`."""

from app import create_app

app = create_app()
