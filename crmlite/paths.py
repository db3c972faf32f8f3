"""Where templates, migrations and translations live: inside the wheel, or beside the package
in a checkout (they are top-level folders of the repository)."""

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def resource_dir(name: str) -> str:
    packaged = PACKAGE_DIR / name
    return str(packaged if packaged.is_dir() else PACKAGE_DIR.parent / name)
