"""THE access policy: every allow/deny decision of the web and the API is taken here.

`can(user, action, target)` answers True or False; `require` raises Forbidden. Views and API
handlers never decide access themselves; services call `require` before they read or write.
"""

from app.errors import Forbidden

# The actor of operator commands run on the server (`parcours users create`…).
SYSTEM = object()


def _is_platform_admin(user):
    return bool(getattr(user, "platform_admin", False))


def _is_active_account(user):
    return user is not None and getattr(user, "is_active", False)


def _roles_in(user, structure):
    if structure is None or not structure.active:
        return set()
    return user.roles_in(structure.id)


def _administers(user, structure):
    return "structure_admin" in _roles_in(user, structure)


def _structure_admin_of_user(user, target_user):
    """A structure admin sees the accounts of their own active structures' members."""
    if target_user is None:
        return False
    admin_of = {m.structure for m in user.memberships if "structure_admin" in m.roles}
    shared = admin_of & {m.structure for m in target_user.memberships}
    if not shared:
        return False
    from app.structures.models import Structure  # a deactivated structure gives no role

    return Structure.objects(id__in=list(shared), active=True).count() > 0


def _self(user, target):
    return target is not None and target.id == user.id


RULES = {
    # Structures
    "structure.list": lambda user, target: _is_platform_admin(user),
    "structure.create": lambda user, target: _is_platform_admin(user),
    "structure.edit": lambda user, target: _is_platform_admin(user),
    "structure.view": lambda user, target: (
        _is_platform_admin(user) or bool(_roles_in(user, target))
    ),
    "structure.manage_members": lambda user, target: (
        _is_platform_admin(user) or _administers(user, target)
    ),
    # Accounts
    "user.list": lambda user, target: _is_platform_admin(user),
    "user.create": lambda user, target: _is_platform_admin(user),
    "user.edit": lambda user, target: _is_platform_admin(user),
    "user.view": lambda user, target: (
        _is_platform_admin(user) or _self(user, target) or _structure_admin_of_user(user, target)
    ),
    # Phone, platform role and every membership: not for a structure admin's eyes.
    "user.view_details": lambda user, target: _is_platform_admin(user) or _self(user, target),
    "profile.edit": lambda user, target: _self(user, target),
    "token.manage": lambda user, target: _self(user, target),
    # Forms: anyone signed in reads the library. Target of form.manage: the owner structure
    # of the form, None for a platform-wide form (platform admins only).
    "form.view": lambda user, target: True,
    "form.manage": lambda user, target: _is_platform_admin(user) or _administers(user, target),
    # Audit trail
    "audit.view": lambda user, target: _is_platform_admin(user),
}

ACTIONS = frozenset(RULES)


def can(user, action, target=None):
    """Whether `user` may do `action` on `target` (a document, or None for a collection)."""
    if action not in RULES:
        raise KeyError(f"unknown policy action: {action}")
    if user is SYSTEM:
        return True
    if not _is_active_account(user):
        return False
    return RULES[action](user, target)


def require(user, action, target=None):
    if not can(user, action, target):
        raise Forbidden()
