"""Flask extensions, created once and bound to the app with init_app."""

from flask import g
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user
from flask_talisman import Talisman
from flask_wtf.csrf import CSRFProtect

babel = Babel()
csrf = CSRFProtect()
login_manager = LoginManager()
# No default limit: limits are declared on the routes that need one (sign-in).
limiter = Limiter(key_func=get_remote_address, default_limits=[])
talisman = Talisman()


def account_key():
    """What a per-account limit counts by: the account of the API token or of the session
    (their checks run before the view, where decorated limits are counted), else the
    client's address."""
    user = g.get("api_user") or current_user
    user_id = getattr(user, "id", None) if getattr(user, "is_authenticated", False) else None
    return f"account:{user_id}" if user_id is not None else get_remote_address()
