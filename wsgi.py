"""WSGI entry point: `gunicorn wsgi:app`."""

from crmlite.app import create_app

app = create_app()
