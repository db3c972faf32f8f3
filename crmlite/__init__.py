"""crmlite: a lightweight self-hosted CRM for small teams."""

__version__ = "0.1.0"

from .hookspecs import hookimpl  # noqa: E402  (plugins: `from crmlite import hookimpl`)

__all__ = ["__version__", "create_app", "hookimpl"]


def create_app(config=None):
    """`flask --app crmlite` finds the factory here; the import stays lazy."""
    from .app import create_app as factory

    return factory(config)
