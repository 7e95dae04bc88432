"""Invitations ("kit de maillage"): a professional invites a colleague who has no account,
with a signed, expiring, single-use link that opens a prefilled account request."""
