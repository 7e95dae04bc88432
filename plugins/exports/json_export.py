"""JSON: the whole content, labelled, with the raw form data beside the labelled answers."""

import json

from plugins.exports.content import whole


def build(view):
    return json.dumps(whole(view), ensure_ascii=False, indent=2).encode("utf-8")
