"""Generated requests against a console on loopback (driven by fuzz.sh): counts answers by class."""

import http.client
import random
import re
import sys
import urllib.parse
from collections import Counter

BASE, COUNT, SEED = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
U = urllib.parse.urlsplit(BASE)
assert U.hostname in ("127.0.0.1", "localhost", "::1"), "loopback only"
rng = random.Random(SEED)
cookies = {}


def request(method, path, body=None, fuzz=False):
    conn = http.client.HTTPConnection(U.hostname, U.port, timeout=30)
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if fuzz and rng.random() < 0.3:
        headers["HX-Request"] = "true"
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    data = resp.read()
    for h, v in resp.getheaders():
        if h.lower() == "set-cookie":
            name, _, rest = v.partition("=")
            cookies[name] = rest.split(";", 1)[0]
    conn.close()
    return resp.status, resp.getheader("Location"), data


def follow(method, path, body=None):
    status, loc, data = request(method, path, body)
    for _ in range(10):
        if status not in (301, 302, 303, 307, 308) or not loc:
            break
        u = urllib.parse.urlsplit(loc)
        status, loc, data = request("GET", u.path + ("?" + u.query if u.query else ""))
    return status, loc, data


# Sign in as the demo user "tech" through the demo identity provider.
status, loc, _ = request("GET", "/login?next=/")
auth = urllib.parse.urlsplit(loc)
form = urllib.parse.parse_qsl(auth.query) + [("user", "tech")]
status, loc, _ = request("POST", auth.path, urllib.parse.urlencode(form))
u = urllib.parse.urlsplit(loc)
follow("GET", u.path + "?" + u.query)
status, _, page = follow("GET", "/devices/NORTHSTAR-ISD")
assert status == 200, f"signed-in list answered {status}"
csrf = re.search(rb'name="csrf-token" content="([^"]+)"', page).group(1).decode()

ATOMS = ["", "0", "1", "-1", "10", "25", "1000", "1001", "99999999999999999999", "ASC", "DESC",
         "MDN", "NICKNAME", "STATUS", "IMEI", "true", "false", "on", "521-267-1508", "5212671508",
         "355737360073462", "12,18", "x", "%", "%00", "%zz", "..", "../..", "=HYPERLINK(\"x\")",
         "<script>", "\u00e9\u20ac", "\U0001f600", "a" * 300, " ", "\t", "\r\n", ",", "&", "+", "@",
         "'", "\"", "null", "NaN", "1e9", "0x10", "ENABLED", "ACTIVE", "SUSPENDED", "10240"]
KEYS = ["offset", "limit", "sort", "sortDir", "searchValue", "labelIds", "columns", "mdns",
        "excluded_mdns", "select_all", "imeis", "status", "nickname", "note", "monthlyLimit",
        "dailyLimit", "confirmed", "acknowledged", "wifiSsid", "wifiPassword", "summerStatus",
        "filterGroup", "label", "corpId", "user", "x", ""]
ACTIONS = ["status", "nickname", "note", "filter-group", "device-group", "data-limits",
           "summer-usage", "mdn-custom-field", "imei", "delete-labels", "smartspot-settings", "bogus"]
CORPS = ["NORTHSTAR-ISD", "NORTHSTAR-ISD-HS", "UNKNOWN", "..", "a.b", "%2e%2e", "x" * 70]


def value():
    r = rng.random()
    if r < 0.6:
        return rng.choice(ATOMS)
    if r < 0.8:
        return "".join(chr(rng.randrange(1, 0x2FF)) for _ in range(rng.randrange(0, 20)))
    return rng.choice(ATOMS) + rng.choice(ATOMS)


def pairs():
    return [(rng.choice(KEYS), value()) for _ in range(rng.randrange(0, 8))]


def query():
    q = urllib.parse.urlencode(pairs())
    if rng.random() < 0.1:  # raw, possibly malformed escapes
        q += "&" + "".join(rng.choice("%&=+;ab01") for _ in range(rng.randrange(1, 12)))
    return q


def quoted(s):
    return urllib.parse.quote(s, safe="")


classes = Counter()
fivexx = []
for i in range(COUNT):
    corp = quoted(CORPS[0] if rng.random() < 0.7 else rng.choice(CORPS))
    kind = rng.randrange(8)
    if kind == 0:
        method, path, body = "GET", f"/devices/{corp}?{query()}", None
    elif kind == 1:
        method, path, body = "GET", f"/devices/{corp}/export.csv?{query()}", None
    elif kind == 2:
        method, path, body = "GET", f"/devices/{corp}/{quoted(value())}/health?{query()}", None
    elif kind == 3:
        method, path, body = "GET", f"/devices/{corp}/imei/{quoted(value())}?{query()}", None
    elif kind == 4:
        method, path, body = "GET", f"/devices/{corp}/line/{quoted(value())}?{query()}", None
    elif kind == 5:
        method, path, body = "GET", f"/devices/{corp}/actions/{rng.choice(ACTIONS)}?{query()}", None
    else:
        form = pairs()
        if rng.random() < 0.9:
            form.append(("csrf_token", csrf))
        body = urllib.parse.urlencode(form)
        if rng.random() < 0.1:
            body += "&" + "".join(rng.choice("%&=+ab") for _ in range(rng.randrange(1, 8)))
        method, path = "POST", f"/devices/{corp}/actions/{rng.choice(ACTIONS)}"
    try:
        status, _, _ = request(method, path, body, fuzz=True)
    except Exception as e:  # a dropped connection counts as a failure
        status = f"error {type(e).__name__}"
    classes[str(status)] += 1
    if isinstance(status, str) or status >= 500:
        fivexx.append((status, method, path, body))

print(f"requests: {COUNT}  by status: {dict(sorted(classes.items()))}")
print(f"5xx answers: {len(fivexx)}")
for f in fivexx[:10]:
    print("  ", f)
sys.exit(1 if fivexx else 0)
