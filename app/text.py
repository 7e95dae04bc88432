"""Search keys: text folded to lower case without accents, cut into tokens.

The embedded database has no text index and reads every match of an open-ended query, so
searches are prefix ranges on an indexed list of such tokens (DESIGN.md §7).
"""

import re
import unicodedata
from itertools import combinations

TOKEN_RE = re.compile(r"[a-z0-9]+")
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


def _prefixes(token):
    return {token[:2], token[:3]} if len(token) > 2 else {token}


def pair(a, b):
    return " ".join(sorted((a, b)))


def name_pairs(search_keys):
    """Every unordered pair of the 2- and 3-letter beginnings of two different words: "lefebvre
    jeanne" gives "je le", "jea le", "je lef", "jea lef". Two words typed in any order, each at
    least begun, then find a person through one indexed equality instead of one common word's
    prefix range."""
    return sorted(
        {
            pair(pa, pb)
            for a, b in combinations(dict.fromkeys(search_keys), 2)
            for pa in _prefixes(a)
            for pb in _prefixes(b)
        }
    )
