"""Flask extensions, created once and bound to the app with init_app."""

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_talisman import Talisman
from flask_wtf.csrf import CSRFProtect

babel = Babel()
csrf = CSRFProtect()
login_manager = LoginManager()
# No default limit: limits are declared on the routes that need one (sign-in).
limiter = Limiter(key_func=get_remote_address, default_limits=[])
talisman = Talisman()
