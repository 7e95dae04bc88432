"""The notifications API: my notifications (paged, unread filter), mark read, preferences;
nobody reads or marks anyone else's; bad input answers 422 with the field's path."""

import pytest
from jsonschema import Draft202012Validator

from app import policy
from app.notifications import services
from app.notifications.models import Notification, OutgoingMail


def tell(people, n=1, kind="account"):
    made = []
    for i in range(n):
        made += services.notify(people, kind, f"Notice {i:02}", "/")
    return made


def test_my_notifications_newest_first_by_pages(api_as, professional):
    api = api_as(professional)
    made = tell([professional], 5)
    first = api.get("/notifications?per_page=2")
    assert first.status_code == 200
    assert [n["text"] for n in first.json["items"]] == ["Notice 04", "Notice 03"]
    assert first.json["unread"] == 5
    item = first.json["items"][0]
    assert item == {
        "id": str(made[4].id),
        "kind": "account",
        "kind_label": "Décision sur mon compte",
        "text": "Notice 04",
        "url": "/",
        "dossier": None,
        "task": None,
        "read": False,
        "read_at": None,
        "created_at": item["created_at"],
    }
    texts, after = [], None
    while True:
        page = api.get("/notifications", query_string={"per_page": 2, "after": after or ""})
        texts += [n["text"] for n in page.json["items"]]
        after = page.json["next"]
        if after is None:
            break
    assert texts == [f"Notice {i:02}" for i in range(4, -1, -1)]


def test_read_one_then_all(api_as, professional):
    api = api_as(professional)
    made = tell([professional], 3)
    read = api.post(f"/notifications/{made[1].id}/read")
    assert read.status_code == 200
    assert read.json["read"] is True
    assert read.json["read_at"]
    again = api.post(f"/notifications/{made[1].id}/read")  # idempotent
    assert again.status_code == 200
    assert again.json["read_at"] == read.json["read_at"]
    unread = api.get("/notifications?unread=true").json
    assert [n["text"] for n in unread["items"]] == ["Notice 02", "Notice 00"]
    assert unread["unread"] == 2
    assert api.post("/notifications/read-all").json == {"marked": 2, "unread": 0}
    assert api.get("/notifications?unread=1").json == {"items": [], "next": None, "unread": 0}


@pytest.mark.parametrize("who", ["colleague", "platform_admin", "coordinator"])
def test_nobody_reads_or_marks_anyone_elses(api_as, professional, make_user, structure,
                                            coordinator, who):  # fmt: skip
    other = {
        "colleague": lambda: make_user(structure),
        "platform_admin": lambda: make_user(platform_admin=True),
        "coordinator": lambda: coordinator,
    }[who]()
    [notice] = tell([professional])
    api = api_as(other)
    refused = api.post(f"/notifications/{notice.id}/read")
    assert refused.status_code == 404
    assert refused.json["error"]["code"] == "not_found"
    assert api.get("/notifications").json["items"] == []
    assert api.post("/notifications/read-all").json["marked"] == 0
    assert Notification.objects.get(id=notice.id).read_at is None


@pytest.mark.parametrize("notification_id", ["x", "0" * 24, "6b0000000000000000000000"])
def test_unknown_notification(api_as, professional, notification_id):
    answer = api_as(professional).post(f"/notifications/{notification_id}/read")
    assert answer.status_code == 404


def test_notification_view_is_the_owners_only(professional, make_user, structure):
    """The policy's row for notification.view (a notification as target)."""
    [notice] = tell([professional])
    suspended = make_user(structure, status="suspended")
    [theirs] = tell([suspended])
    assert policy.can(professional, "notification.view", notice) is True
    assert policy.can(make_user(structure), "notification.view", notice) is False
    assert policy.can(make_user(platform_admin=True), "notification.view", notice) is False
    assert policy.can(suspended, "notification.view", theirs) is False
    assert policy.can(None, "notification.view", notice) is False
    assert policy.can(professional, "notification.view", None) is False
    assert policy.can(policy.SYSTEM, "notification.view", notice) is True


# --- preferences ---------------------------------------------------------------------------


def test_preferences_defaults_then_changes(api_as, professional):
    api = api_as(professional)
    got = api.get("/notifications/preferences")
    assert got.status_code == 200
    assert got.json == {
        "email": True,
        "kinds": {
            "task_assigned": "immediate",
            "task_available": "digest",
            "task_overdue": "immediate",
            "reminder": "immediate",
            "escalation": "immediate",
            "message": "immediate",
            "circle_added": "digest",
            "join_request": "immediate",
            "consent_withdrawn": "immediate",
            "account": "immediate",
        },
    }
    put = api.request("PUT", "/notifications/preferences", json={"kinds": {"reminder": "digest"}})
    assert put.status_code == 200
    assert put.json["kinds"]["reminder"] == "digest"
    assert put.json["kinds"]["task_assigned"] == "immediate"  # untouched
    off = api.request("PUT", "/notifications/preferences", json={"email": False})
    assert off.json["email"] is False
    assert off.json["kinds"]["reminder"] == "digest"
    assert api.get("/notifications/preferences").json == off.json


def test_no_more_email_cancels_the_queued_ones(api_as, professional):
    tell([professional], 2)
    assert set(OutgoingMail.objects.scalar("status")) == {"pending"}
    api_as(professional).request("PUT", "/notifications/preferences", json={"email": False})
    assert set(OutgoingMail.objects.scalar("status")) == {"cancelled"}
    tell([professional])  # now in the app only
    assert OutgoingMail.objects.count() == 2
    assert Notification.objects.count() == 3


CHOOSE = "Choisissez une valeur de la liste."


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"kinds": {"inconnu": "app"}}, {"/kinds/inconnu": "Ce champ n'est pas attendu."}),
        ({"kinds": {"reminder": "pigeon"}}, {"/kinds/reminder": CHOOSE}),
        ({"kinds": {"reminder": None}}, {"/kinds/reminder": CHOOSE}),
        ({"kinds": ["reminder"]}, {"/kinds": "La valeur doit être un objet."}),
        ({"email": "non"}, {"/email": "La valeur doit être vrai ou faux."}),
        ({"sms": True}, {"/sms": "Ce champ n'est pas attendu."}),
        ({}, {"/": "La valeur est invalide."}),
    ],
)
def test_bad_preferences_are_refused_with_the_field(api_as, professional, body, fields):
    api = api_as(professional)
    refused = api.request("PUT", "/notifications/preferences", json=body)
    assert refused.status_code == 422
    assert refused.json["error"]["code"] == "invalid"
    assert refused.json["error"]["fields"] == fields
    assert api.get("/notifications/preferences").json["kinds"]["reminder"] == "immediate"


def test_preferences_need_json(api_as, professional):
    api = api_as(professional)
    answer = api.client.put(
        "/api/v1/notifications/preferences", data="email=false", headers={
            **api.headers, "Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert answer.status_code == 415
    broken = api.client.put("/api/v1/notifications/preferences", data="{", headers={
        **api.headers, "Content-Type": "application/json"})  # fmt: skip
    assert broken.status_code == 400


def test_answers_match_the_openapi_document(api_as, professional):
    api = api_as(professional)
    document = api.get("/openapi.json").json
    [notice] = tell([professional])
    calls = [
        ("get", "/api/v1/notifications", api.get("/notifications")),
        ("post", "/api/v1/notifications/{notification_id}/read",
         api.post(f"/notifications/{notice.id}/read")),
        ("post", "/api/v1/notifications/read-all", api.post("/notifications/read-all")),
        ("get", "/api/v1/notifications/preferences", api.get("/notifications/preferences")),
        ("put", "/api/v1/notifications/preferences",
         api.request("PUT", "/notifications/preferences", json={"email": True})),
    ]  # fmt: skip
    for method, path, response in calls:
        operation = document["paths"][path][method]
        assert str(response.status_code) in operation["responses"], (method, path)
        schema = operation["responses"][str(response.status_code)]["content"]["application/json"][
            "schema"
        ]
        assert list(Draft202012Validator(schema).iter_errors(response.json)) == [], path
    params = document["paths"]["/api/v1/notifications"]["get"]["parameters"]
    assert {p["name"] for p in params} == {"unread", "after", "per_page"}


@pytest.mark.parametrize("kept_first", ["tasks", "messages"])
def test_counters_kept_before_the_first_notice(api_as, login_as, professional, kept_first):
    """The inbox's task counts (a page opened) or a message counter can be stored before any
    notice: the bell's number is then 0, not a server error."""
    if kept_first == "tasks":
        assert login_as(professional).get("/taches").status_code == 200
    else:
        services.move_unread_messages({professional.id: 1})
    api = api_as(professional)
    listed = api.get("/notifications")
    assert listed.status_code == 200, listed.get_data(as_text=True)[:300]
    assert (listed.json["items"], listed.json["unread"]) == ([], 0)
    marked = api.post("/notifications/read-all")
    assert marked.status_code == 200
    assert marked.json == {"marked": 0, "unread": 0}
    tell([professional], 2)
    assert api.get("/notifications").json["unread"] == 2
