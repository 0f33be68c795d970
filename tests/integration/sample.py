"""The sample catalog as the tests expect to see it: read from the files in
catalog/sample (written by scripts/gen_catalog.py), so expectations follow
the data instead of being copied from it. Only what a test needs to compute
an expected answer independently of the server: which items each kind of
caller sees, and plain filters over them."""
import glob
import json
import os

from harness import SAMPLE_CATALOG

PARTNER_COLLECTION = "l3a-ch4-mfa-v3a-partner"


def _load(tree):
    items = []
    for path in sorted(glob.glob(os.path.join(SAMPLE_CATALOG, tree, "*", "items-*.json"))):
        with open(path) as f:
            items += json.load(f)["features"]
    return items


PUBLIC_ITEMS = _load("public")
PARTNER_ITEMS = _load("partners")  # embargoed records and the partner collection


def visible(partner):
    """Every item a Public caller (or anonymous) sees, or a partner sees."""
    return PUBLIC_ITEMS + (PARTNER_ITEMS if partner else [])


def collections(partner):
    return {i["collection"] for i in visible(partner)}


def collection_doc(cid):
    with open(os.path.join(SAMPLE_CATALOG, "public", cid, "collection.json")) as f:
        return json.load(f)


def in_bbox(item, bbox):
    w, s, e, n = bbox
    b = item["bbox"]
    return b[0] <= e and b[2] >= w and b[1] <= n and b[3] >= s


def select(partner, collection=None, bbox=None, start=None, end=None, where=None):
    """The ids (collection, id) of visible items matching every given test;
    start/end compare RFC 3339 UTC strings ('Z'), both ends inclusive."""
    out = []
    for i in visible(partner):
        t = i["properties"]["datetime"]
        if ((collection is None or i["collection"] == collection) and
                (bbox is None or in_bbox(i, bbox)) and (start is None or t >= start) and
                (end is None or t <= end) and (where is None or where(i))):
            out.append((i["collection"], i["id"]))
    return out


def first(partner_only=False, collection=None, asset=None):
    """The first item (in file order) of a collection that only partners see
    (partner_only) or that everyone sees, having the asset key if given."""
    for i in (PARTNER_ITEMS if partner_only else PUBLIC_ITEMS):
        if (collection is None or i["collection"] == collection) and \
                (asset is None or asset in i["assets"]):
            return i
    raise LookupError("the sample has no such item: %s %s" % (collection, asset))


def asset_key(item, key):
    """The asset endpoint's key of an item's asset (its href in the files)."""
    return item["assets"][key]["href"]
