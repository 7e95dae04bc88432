"""Signals that services send and other features (pathways, notifications, plugins) hear."""

from blinker import Namespace

signals = Namespace()

# sender: the acting user; dossier=…
consent_withdrawn = signals.signal("consent-withdrawn")
# sender: the acting user; dossier=…, member=… (a CareMember)
member_added = signals.signal("member-added")
# sender: the acting user; dossier=… (reloaded), member=… (the CareMember removed; None when
# the patient refused someone)
member_removed = signals.signal("member-removed")
# sender: the acting user; dossier=…, request=… (a JoinRequest)
join_requested = signals.signal("join-requested")
# sender: the acting user; dossier=…, entry=…
entry_added = signals.signal("entry-added")
# sender: the PathwayInstance; dossier=…, call={"element", "name", "operator", "params", "result"}
# (a `notify` or `send_email` service task that ran: the inbox issue delivers them)
service_called = signals.signal("service-called")
# sender: the PathwayInstance; dossier=… (None for a platform process), data=… (the instance's
# data: each form by its key, service results, messages), when it reaches its end
pathway_completed = signals.signal("pathway-completed")
# sender: the acting user; dossier=…, task=… (a Task given to someone: created, claimed, assigned)
task_assigned = signals.signal("task-assigned")
# sender: the acting user; dossier=…, task=… (a Task given back: offered to its candidates again)
task_offered = signals.signal("task-offered")
# sender: the acting user; task=…, instance=…, data=… (the validated form): a step completed
task_completed = signals.signal("task-completed")
# sender: the acting user; task=… (a Task claimed, given back, reassigned or completed)
task_changed = signals.signal("task-changed")
# sender: the new Task (materialised when its step became ready); dossier=…, actor=… (whose
# action made it ready; None for a timer or a message)
task_created = signals.signal("task-created")
# sender: the acting user (a platform admin, or SYSTEM); user=… (the account), decision=…
# ("verified", "activated", "refused", "suspended", "reactivated"): issue 7 sends it
account_decided = signals.signal("account-decided")
