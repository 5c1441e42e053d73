#!/usr/bin/env python3
"""Logs in through the test IdP (tests/idp/idp.mjs) by script, as a browser would, for
scripts/bench/compare.sh. Standard library only.

  login.py session --app-origin http://app.localhost --server 127.0.0.1:PORT \\
      --username U --password P
      GET {app}/oauth2/start?rd={app}/ on an auth server (Portcullis or oauth2-proxy),
      follows the redirects to the IdP, fills in its login form (and consent form, when
      it shows one), follows the redirects back to {app}/oauth2/callback and stops at the
      `rd` URL. Prints the Cookie header a browser would then send to the app host.
      The app host is not resolved: every request to it goes to --server with its Host.

  login.py id-token --issuer URL --client-id ID --client-secret S \\
      --redirect-uri URI --username U --password P
      The authorization code flow as the client itself: prints the ID token (a JWT
      whose audience is the client, usable as a bearer token by both servers).
"""

import argparse
import base64
import http.client
import http.cookiejar
import json
import secrets
import sys
import urllib.parse
import urllib.request
from html.parser import HTMLParser


class Forms(HTMLParser):
    """The forms of a page: action, method and the name/value of each field."""

    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action") or "", "method": (a.get("method") or "get").upper(), "fields": []})
        elif tag in ("input", "button") and self.forms and a.get("name"):
            self.forms[-1]["fields"].append((a["name"], a.get("value") or ""))


class Browser:
    """Manual redirects, a cookie jar keyed by the URLs as the browser sees them, and a
    host map: requests to a mapped host go to another address with the original Host."""

    def __init__(self, hosts):
        self.jar = http.cookiejar.CookieJar()
        self.hosts = hosts

    def send(self, method, url, body=None, headers=None):
        req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
        self.jar.add_cookie_header(req)
        parts = urllib.parse.urlsplit(url)
        addr = self.hosts.get(parts.hostname, parts.netloc)
        conn = http.client.HTTPConnection(addr, timeout=30)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        sent = dict(req.header_items())
        sent["Host"] = parts.netloc
        sent["Accept"] = "text/html"
        conn.request(method, path, body=body, headers=sent)
        resp = conn.getresponse()
        data = resp.read().decode("utf-8", "replace")
        self.jar.extract_cookies(resp, req)
        conn.close()
        return resp.status, resp.getheader("Location"), data

    def navigate(self, method, url, body=None, headers=None, stop=None):
        """Follows redirects; returns (status, url, location, body) of the last hop, or
        of the redirect whose target `stop` accepts (not followed)."""
        for _ in range(20):
            status, location, data = self.send(method, url, body, headers)
            if status not in (301, 302, 303, 307, 308) or not location:
                return status, url, None, data
            target = urllib.parse.urljoin(url, location)
            if stop and stop(target):
                return status, url, target, data
            method, url, body, headers = "GET", target, None, None
        sys.exit(f"login.py: redirect loop at {url}")

    def submit(self, page_url, page, fill):
        """Submits the page's first form with `fill` applied; follows redirects."""
        parser = Forms()
        parser.feed(page)
        if not parser.forms:
            return None
        form = parser.forms[0]
        fields = dict(form["fields"])
        fields.update({k: v for k, v in fill.items() if k in fields})
        body = urllib.parse.urlencode(fields).encode()
        action = urllib.parse.urljoin(page_url, form["action"])
        return action, body


def login(browser, start, username, password, stop):
    """Starts at `start` and walks the IdP's forms until `stop` accepts a redirect."""
    status, url, target, page = browser.navigate("GET", start, stop=stop)
    for _ in range(3):
        if target:
            return target
        form = browser.submit(url, page, {"username": username, "password": password})
        if status != 200 or not form:
            sys.exit(f"login.py: stuck at {url} (HTTP {status}): {page[:300]}")
        action, body = form
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        status, url, target, page = browser.navigate("POST", action, body, headers, stop=stop)
    sys.exit(f"login.py: no way through the IdP's forms (last: {url}, HTTP {status})")


def path_matches(cookie_path, request_path):
    """RFC 6265 5.1.4 path-match."""
    cookie_path = cookie_path or "/"
    if request_path == cookie_path:
        return True
    return request_path.startswith(cookie_path) and (
        cookie_path.endswith("/") or request_path[len(cookie_path)] == "/"
    )


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["session", "id-token"])
    p.add_argument("--username", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--app-origin", default="http://app.localhost")
    p.add_argument("--server", help="host:port of the auth server serving the app host's /oauth2/")
    p.add_argument("--issuer")
    p.add_argument("--client-id")
    p.add_argument("--client-secret")
    p.add_argument("--redirect-uri")
    args = p.parse_args()

    if args.mode == "session":
        app = urllib.parse.urlsplit(args.app_origin)
        browser = Browser({app.hostname: args.server})
        rd = args.app_origin + "/"
        start = f"{args.app_origin}/oauth2/start?rd={urllib.parse.quote(rd, safe='')}"
        login(browser, start, args.username, args.password, stop=lambda t: t == rd)
        # What the browser sends to the app's `/` (and so the ingress to the auth
        # subrequest): its host's cookies whose Path covers `/` (RFC 6265 5.1.4), not,
        # say, Portcullis's sign-out hint (Path=/oauth2/sign_out).
        cookies = [
            f"{c.name}={c.value}"
            for c in browser.jar
            if c.domain in (app.hostname, app.hostname + ".local") and path_matches(c.path, "/")
        ]
        if not cookies:
            sys.exit("login.py: logged in, but the auth server set no cookie")
        print("; ".join(cookies))
        return

    browser = Browser({})
    query = urllib.parse.urlencode({
        "client_id": args.client_id, "response_type": "code", "scope": "openid profile email groups",
        "redirect_uri": args.redirect_uri, "state": secrets.token_urlsafe(16), "nonce": secrets.token_urlsafe(16),
    })
    with urllib.request.urlopen(f"{args.issuer}/.well-known/openid-configuration", timeout=30) as r:
        discovery = json.load(r)
    target = login(browser, f"{discovery['authorization_endpoint']}?{query}", args.username, args.password,
                   stop=lambda t: t.startswith(args.redirect_uri))
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query)["code"][0]
    basic = base64.b64encode(f"{args.client_id}:{args.client_secret}".encode()).decode()
    req = urllib.request.Request(discovery["token_endpoint"], method="POST", data=urllib.parse.urlencode({
        "grant_type": "authorization_code", "code": code, "redirect_uri": args.redirect_uri,
    }).encode(), headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(req, timeout=30) as r:
        print(json.load(r)["id_token"])


if __name__ == "__main__":
    main()
