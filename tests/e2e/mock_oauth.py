"""A local OAuth2 authorization server for the tests (http on 127.0.0.1, a
free port), playing Microsoft's and Google's part:

- the device authorization grant (RFC 8628): /devicecode, then /token polls
  answered authorization_pending until the test approves, denies or expires
  the code (approve(), deny(), expire()), with slow_down on request;
- the authorization-code grant with PKCE (RFC 7636): /authorize, which the
  test requests as the user's browser would, answers with a redirect to the
  client's loopback address; /token checks the code_verifier against the
  S256 challenge;
- refresh (/token, grant_type=refresh_token), with rotation on request
  (``rotate``) and revocation (revoke());
- the token validation Dovecot's ``passdb oauth2`` asks for (the same
  token-info GET and introspection POST as test_oauth2.py's TokenServer), so
  that its access tokens log in to the suite's Dovecot.

Every token it issues is kept (``issued``), for the secrets canaries."""

import base64
import hashlib
import json
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def s256(verifier):
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


class MockOAuth:
    def __init__(self, client_id="mock-client", client_secret=None):
        self.client_id = client_id
        self.client_secret = client_secret
        self.lock = threading.Lock()
        self.device_interval = 1
        self.device_expires_in = 600
        self.expires_in = 3600       # of access tokens
        self.rotate = False          # a new refresh token on every refresh, the old one revoked
        self.slow_downs = 0          # answer this many device polls with slow_down
        self.devices = {}            # device_code -> {"user_code", "state", "user", "polls": [times]}
        self.codes = {}              # authorization code -> {"user", "challenge", "redirect_uri"}
        self.refresh_tokens = {}     # refresh token -> user
        self.access_tokens = {}      # access token -> user
        self.issued = []             # every token handed out
        self.refreshes = 0
        self.deny_browser = False
        self.browser_user = None     # who signs in at /authorize (default: login_hint)
        self.unavailable = 0         # answer this many token requests with HTTP 503
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                url = urllib.parse.urlparse(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                if url.path == "/tokeninfo":
                    return self.validate(query.get("access_token", ""))
                if url.path == "/authorize":
                    return owner.authorize(self, query)
                self.reply(404, {"error": "not_found"})

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                form = dict(urllib.parse.parse_qsl(body))
                path = urllib.parse.urlparse(self.path).path
                if path == "/introspect":
                    return self.validate(form.get("token", ""))
                if path == "/devicecode":
                    return self.reply(*owner.device_code(form))
                if path == "/token":
                    return self.reply(*owner.token(form))
                self.reply(404, {"error": "not_found"})

            def validate(self, token):
                user = owner.access_tokens.get(token)
                self.reply(200 if user else 401,
                           {"active": True, "username": user} if user else
                           {"active": False, "error": "invalid_token"})

            def reply(self, status, doc, headers=()):
                data = json.dumps(doc).encode()
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- what the test does as the user ------------------------------------

    def device(self, user_code):
        with self.lock:
            for d in self.devices.values():
                if d["user_code"] == user_code:
                    return d
        raise KeyError(user_code)

    def approve(self, user_code, user):
        d = self.device(user_code)
        d["user"], d["state"] = user, "approved"

    def deny(self, user_code):
        self.device(user_code)["state"] = "denied"

    def expire(self, user_code):
        self.device(user_code)["state"] = "expired"

    def revoke(self, user):
        with self.lock:
            for t in [t for t, u in self.refresh_tokens.items() if u == user]:
                del self.refresh_tokens[t]

    def user_of_refresh_token(self, token):
        return self.refresh_tokens.get(token)

    # -- the endpoints -----------------------------------------------------

    def new_token(self, prefix):
        token = f"{prefix}-{secrets.token_urlsafe(24)}"
        self.issued.append(token)
        return token

    def tokens_for(self, user, with_refresh=True):
        access = self.new_token("mock-at")
        self.access_tokens[access] = user
        doc = {"token_type": "Bearer", "access_token": access, "expires_in": self.expires_in,
               "scope": "mock"}
        if with_refresh:
            refresh = self.new_token("mock-rt")
            self.refresh_tokens[refresh] = user
            doc["refresh_token"] = refresh
        return doc

    def client_ok(self, form):
        if form.get("client_id") != self.client_id:
            return False
        return self.client_secret is None or form.get("client_secret") == self.client_secret

    def device_code(self, form):
        if not self.client_ok(form):
            return 401, {"error": "invalid_client"}
        code = self.new_token("mock-dc")
        user_code = f"{secrets.randbelow(10**8):08d}"
        with self.lock:
            self.devices[code] = {"user_code": user_code, "state": "pending", "user": None, "polls": [],
                                  "scope": form.get("scope", "")}
        return 200, {"device_code": code, "user_code": user_code,
                     "verification_uri": f"{self.url}/device", "expires_in": self.device_expires_in,
                     "interval": self.device_interval, "message": "mock"}

    def token(self, form):
        if self.unavailable > 0:
            self.unavailable -= 1
            return 503, {"error": "temporarily_unavailable"}
        if not self.client_ok(form):
            return 401, {"error": "invalid_client"}
        grant = form.get("grant_type")
        with self.lock:
            if grant == "urn:ietf:params:oauth:grant-type:device_code":
                return self.poll(form)
            if grant == "authorization_code":
                return self.exchange(form)
            if grant == "refresh_token":
                return self.refresh(form)
        return 400, {"error": "unsupported_grant_type"}

    def poll(self, form):
        d = self.devices.get(form.get("device_code", ""))
        if d is None:
            return 400, {"error": "invalid_grant"}
        d["polls"].append(time.monotonic())
        if d["state"] == "denied":
            return 400, {"error": "access_denied", "error_description": "the user declined"}
        if d["state"] == "expired":
            return 400, {"error": "expired_token"}
        if self.slow_downs > 0:
            self.slow_downs -= 1
            return 400, {"error": "slow_down"}
        if d["state"] == "pending":
            return 400, {"error": "authorization_pending"}
        del self.devices[form["device_code"]]
        return 200, self.tokens_for(d["user"])

    def exchange(self, form):
        c = self.codes.pop(form.get("code", ""), None)
        if c is None or form.get("redirect_uri") != c["redirect_uri"]:
            return 400, {"error": "invalid_grant"}
        if s256(form.get("code_verifier", "")) != c["challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        return 200, self.tokens_for(c["user"])

    def refresh(self, form):
        old = form.get("refresh_token", "")
        user = self.refresh_tokens.get(old)
        if user is None:
            return 400, {"error": "invalid_grant", "error_description": "the refresh token was revoked"}
        self.refreshes += 1
        doc = self.tokens_for(user, with_refresh=self.rotate)
        if self.rotate:
            del self.refresh_tokens[old]
        return 200, doc

    def authorize(self, handler, query):
        if query.get("client_id") != self.client_id or query.get("code_challenge_method") != "S256" \
                or not query.get("code_challenge"):
            return handler.reply(400, {"error": "invalid_request"})
        redirect = query["redirect_uri"]
        if not redirect.startswith("http://127.0.0.1:"):
            return handler.reply(400, {"error": "invalid_request"})
        if self.deny_browser:
            params = {"error": "access_denied", "state": query.get("state", "")}
        else:
            code = self.new_token("mock-code")
            with self.lock:
                self.codes[code] = {"user": self.browser_user or query.get("login_hint"),
                                    "challenge": query["code_challenge"], "redirect_uri": redirect}
            params = {"code": code, "state": query.get("state", "")}
        handler.send_response(302)
        handler.send_header("Location", redirect + "?" + urllib.parse.urlencode(params))
        handler.send_header("Content-Length", "0")
        handler.end_headers()


def device_login(mock, mailferry, user, env, extra=()):
    """`mailferry login --oauth2 microsoft` against `mock`, approving the code
    it prints as `user`; (returncode, stdout, stderr)."""
    import re
    import subprocess
    proc = subprocess.Popen([mailferry, "login", "--oauth2", "microsoft", "--user", user,
                             "--oauth2-token-url", f"{mock.url}/token",
                             "--oauth2-device-url", f"{mock.url}/devicecode",
                             "--oauth2-client-id", mock.client_id, *extra],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    m = re.search(r"enter the code (\S+)", line)
    if m:
        mock.approve(m.group(1), user)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, line + out, err
