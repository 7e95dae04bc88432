"""Search keys: text folded to lower case without accents, cut into tokens.

The embedded database has no text index and reads every match of an open-ended query, so
searches are prefix ranges on an indexed list of such tokens (DESIGN.md §7).
"""

import re
import unicodedata

TOKEN_RE = re.compile(r"[a-z0-9]+")
NOT_ALNUM_RE = re.compile(r"[^a-z0-9]")
# Past every character a token can hold: [token, token + HIGH) is "starts with token".
HIGH = "\uffff"


def fold(text):
    """Lower case, accents removed: "Lefèbvre" -> "lefebvre"."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def tokens(*texts):
    """The distinct tokens of `texts`, folded, in order of appearance."""
    found = {}
    for text in texts:
        for token in TOKEN_RE.findall(fold(text)):
            found.setdefault(token, None)
    return list(found)


def prefix_range(token):
    return {"$gte": token, "$lt": token + HIGH}


def matches_all(keys, wanted):
    """Whether every wanted token starts one of `keys`."""
    return all(any(key.startswith(token) for key in keys) for token in wanted)


def compact(text):
    """Folded, with nothing but letters and digits: "Le Gall", "LEGALL" and "le-gall" are all
    "legall". A whole name as a key for an equality (the identity search, duplicates)."""
    return NOT_ALNUM_RE.sub("", fold(text))
