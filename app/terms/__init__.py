"""Terms of use (CGU): versions published by the platform admins, each accepted by every
user before any other page; the acceptances are audited."""
