"""Users, login throttling and the first-run setup token."""

import secrets
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ..config import read_or_create_private
from ..models import LoginFailure, User
from ..models.types import utcnow
from ..models.user import ROLES
from .i18n import _

MIN_PASSWORD = 8


class UserError(ValueError):
    pass


def has_users(session: Session) -> bool:
    return session.execute(select(User.id).limit(1)).first() is not None


def find_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def create_user(session: Session, email: str, password: str, role: str, name: str = "") -> User:
    email = email.strip().lower()
    if "@" not in email:
        raise UserError(_("Enter a valid e-mail address."))
    if role not in ROLES:
        raise UserError(_("Role must be one of %(roles)s.", roles=", ".join(ROLES)))
    if len(password) < MIN_PASSWORD:
        raise UserError(_("The password must be at least %(n)s characters long.", n=MIN_PASSWORD))
    if find_by_email(session, email):
        raise UserError(_("A user with the e-mail %(email)s already exists.", email=email))
    user = User(email=email, name=name.strip(), role=role)
    user.set_password(password)
    session.add(user)
    session.flush()
    return user


def is_throttled(session: Session, limits: dict[str, int], window_seconds: int) -> bool:
    """True when any key (an e-mail, an address) failed `limit` times within the window."""
    since = utcnow() - timedelta(seconds=window_seconds)
    counts = session.execute(
        select(LoginFailure.key, func.count())
        .where(LoginFailure.key.in_(list(limits)), LoginFailure.at >= since)
        .group_by(LoginFailure.key)
    )
    return any(n >= limits[key] for key, n in counts)


def record_failure(session: Session, keys: list[str]) -> None:
    session.add_all(LoginFailure(key=k) for k in keys)


def clear_failures(session: Session, keys: list[str], older_than_seconds: int) -> None:
    """Forget failures of a successful login, and old rows of everyone."""
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    session.execute(delete(LoginFailure).where(LoginFailure.key.in_(keys)))
    session.execute(delete(LoginFailure).where(LoginFailure.at < cutoff))


def setup_token(instance_path: str) -> str:
    """The one-time token the first admin must type; kept in a file so every process agrees."""
    path = Path(instance_path) / "setup_token"
    return read_or_create_private(path, lambda: secrets.token_urlsafe(12))


def discard_setup_token(instance_path: str) -> None:
    (Path(instance_path) / "setup_token").unlink(missing_ok=True)


# -- administration and own account ------------------------------------------------------

LANGUAGES = ("en", "ru")


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.email)))


def _active_admins(session: Session) -> int:
    return session.scalar(
        select(func.count(User.id)).where(User.role == "admin", User.active.is_(True))
    )


def _guard_admin_loss(session: Session, actor: User | None, user: User, action: str) -> None:
    """Refuse to take admin rights away from the last active admin, or from yourself."""
    if user.role != "admin" or not user.active:
        return
    if _active_admins(session) <= 1:
        raise UserError(
            _(
                "%(email)s is the last active admin; make someone else admin first.",
                email=user.email,
            )
        )
    if actor is not None and user.id == actor.id:
        if action == "demote":
            raise UserError(_("You cannot change your own role; ask another admin."))
        raise UserError(_("You cannot deactivate yourself; ask another admin."))


def update_user(session: Session, actor: User | None, user: User, name: str, role: str) -> None:
    if role not in ROLES:
        raise UserError(_("Role must be one of %(roles)s.", roles=", ".join(ROLES)))
    name = name.strip()
    if len(name) > 200:
        raise UserError(_("At most %(n)s characters.", n=200))
    if role != user.role and user.role == "admin":
        _guard_admin_loss(session, actor, user, "demote")
    user.name, user.role = name, role
    session.flush()


def set_active(session: Session, actor: User | None, user: User, active: bool) -> None:
    """A deactivated user cannot log in (their session ends too); their contacts keep them."""
    if not active:
        _guard_admin_loss(session, actor, user, "deactivate")
    user.active = active
    session.flush()


def set_password(session: Session, user: User, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(_("The password must be at least %(n)s characters long.", n=MIN_PASSWORD))
    user.set_password(password)
    session.flush()


def change_own_password(session: Session, user: User, current: str, new: str) -> None:
    if not user.check_password(current):
        raise UserError(_("The current password is wrong."))
    set_password(session, user, new)


def set_language(session: Session, user: User, language: str | None) -> None:
    """None means: follow the browser's Accept-Language."""
    if language not in (None, *LANGUAGES):
        raise UserError(_("Choose one of the offered languages."))
    user.language = language
    session.flush()
