"""Becoming a user: the public account request (opened by an invitation's link or directly)
and what follows it."""
