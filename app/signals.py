"""Signals that services send and other features (pathways, notifications, plugins) hear."""

from blinker import Namespace

signals = Namespace()

# sender: the acting user; dossier=…
consent_withdrawn = signals.signal("consent-withdrawn")
# sender: the acting user; dossier=…, member=… (a CareMember)
member_added = signals.signal("member-added")
# sender: the acting user; dossier=…, request=… (a JoinRequest)
join_requested = signals.signal("join-requested")
# sender: the acting user; dossier=…, entry=…
entry_added = signals.signal("entry-added")
# sender: the PathwayInstance; dossier=…, call={"element", "name", "operator", "params", "result"}
# (a `notify` or `send_email` service task that ran: the inbox issue delivers them)
service_called = signals.signal("service-called")
# sender: the acting user; dossier=…, task=… (a Task given to someone: created, claimed, assigned)
task_assigned = signals.signal("task-assigned")
