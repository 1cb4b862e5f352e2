"""Hostile-input part of the reliability harness: hypothesis over every public route of
the addon, over real HTTP against the multi-worker server.

Routes: open pixel, click, beacon (POST and the CORS preflight), call webhook, the
website form that creates leads, and random paths under /cpa/. Each case checks: no
5xx, no traceback, none of the fixture leads' names, emails or phones in the answer,
no redirect outside the stored link URLs (the click route) or the server itself.
"""

import contextlib
import json
import os
import tempfile
import time
from urllib.parse import urlsplit

import requests

# Hypothesis keeps a cache folder: not in the repository.
os.environ.setdefault(
    "HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(tempfile.gettempdir(), "cpa-hypothesis")
)
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from reliability_http import (
    BROWSER,
    FUZZ,
    LINK_URLS,
    SOURCE,
    Signer,
    phone,
    setup_public_routes,
)

FORM_FIELDS = ("contact_name", "email_from", "phone", "name", "partner_name", "description")
ENCODINGS = ("utf-8", "utf-16", "latin-1", "utf-8-sig", "cp1252")
METHODS = ("GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH")


class Fuzzer:
    def __init__(self, server, lead_ids, secrets, link_ids, cases):
        self.server = server
        self.base = urlsplit(server.url).netloc
        self.lead_ids = lead_ids
        self.secrets = secrets  # texts that must never appear in a response
        self.link_ids = link_ids
        self.cases = cases
        self.signer = Signer(server)
        self.fuzz = FUZZ
        self.session = requests.Session()
        self.counts = {}
        self.statuses = {}
        self.problems = []

    def sign(self, scope, numbers):
        return self.signer.sign(scope, numbers)

    def ids(self):
        now = int(time.time())
        return (*self.lead_ids[:3], *self.link_ids, now, now - 3600)

    def send(self, route, method, path, **kwargs):
        """One request and its checks; problems are collected, not raised (every case
        runs, no shrinking against a live server)."""
        self.counts[route] = self.counts.get(route, 0) + 1
        try:
            response = self.session.request(
                method, self.server.url + path, allow_redirects=False, timeout=60, **kwargs
            )
        except ValueError:
            return  # the client refused to send it (e.g. a header): nothing reached Odoo
        except requests.RequestException as exc:
            self.problems.append(f"{route}: no answer ({exc})"[:300])
            return
        statuses = self.statuses.setdefault(route, {})
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        what = f"{route} {method} {path[:80]!r}"
        text = response.content.decode("utf-8", "replace")
        if response.status_code >= 500:
            self.problems.append(f"{what}: HTTP {response.status_code}")
        if "Traceback" in text:
            self.problems.append(f"{what}: traceback in the answer")
        for secret in self.secrets:
            if secret in text or secret in str(response.headers):
                self.problems.append(f"{what}: lead data {secret!r} in the answer")
        location = response.headers.get("Location")
        if response.is_redirect and location:
            netloc = urlsplit(location).netloc
            if netloc and netloc != self.base:
                stored = route == "click" and location.startswith(LINK_URLS)
                if not stored:
                    self.problems.append(f"{what}: redirect to {location[:120]}")

    def run(self, route, strategy, build):
        """``cases`` hypothesis examples of ``strategy``, each sent with ``build``."""

        @settings(
            max_examples=self.cases,
            deadline=None,
            database=None,
            derandomize=True,
            phases=(Phase.generate,),
            suppress_health_check=list(HealthCheck),
        )
        @given(strategy)
        def case(example):
            method, path, kwargs = build(example)
            self.send(route, method, path, **kwargs)

        case()

    # ------------------------------------------------------------------ routes

    def headers_st(self):
        names = st.sampled_from(
            ["User-Agent", "Content-Type", "Origin", "Cookie", "Content-Encoding", "Referer"]
        )
        return st.dictionaries(names, st.text(max_size=60), max_size=4)

    def clean_headers(self, headers):
        clean = {}
        for name, value in headers.items():
            value = value.encode("latin-1", "ignore").decode("latin-1")
            clean[name] = "".join(ch for ch in value if ch not in "\r\n\x00")
        return clean

    def fuzz_pixel_click(self):
        fuzz = self.fuzz
        for route, scope, prefix in (("pixel", "open", "/cpa/o/"), ("click", "click", "/cpa/c/")):
            count = fuzz.TOKEN_FORMATS[scope]

            def build(example, scope=scope, count=count, prefix=prefix):
                rng, headers, suffix = example
                token = fuzz.token_like(
                    rng, self.sign, scope, rng.choice([count, count - 1, count + 1]), self.ids()
                )
                path = prefix + fuzz.path_segment(token) + suffix
                return "GET", path, {"headers": self.clean_headers(headers)}

            self.run(
                route,
                st.tuples(
                    st.randoms(use_true_random=False),
                    self.headers_st(),
                    st.sampled_from(["", "", "?x=1", "?url=https://evil.example", "/extra"]),
                ),
                build,
            )

    def fuzz_beacon(self):
        fuzz = self.fuzz
        lead_token = self.sign("lead", [self.lead_ids[0], int(time.time())])

        def build(example):
            rng, encoding, raw, headers, size = example
            body = (
                raw if raw is not None else fuzz.beacon_body(rng, self.sign, lead_token, self.ids())
            )
            with contextlib.suppress(UnicodeDecodeError, UnicodeEncodeError):
                body = body.decode("utf-8").encode(encoding)
            if size:
                body = body + b" " * size
            headers = dict(self.clean_headers(headers))
            headers.setdefault("Content-Type", rng.choice(fuzz.CONTENT_TYPES))
            if rng.random() < 0.5:
                headers["Origin"] = rng.choice(fuzz.ORIGINS)
            return "POST", "/cpa/beacon", {"data": body, "headers": headers}

        self.run(
            "beacon",
            st.tuples(
                st.randoms(use_true_random=False),
                st.sampled_from(ENCODINGS),
                st.one_of(st.none(), st.none(), st.binary(max_size=600)),
                self.headers_st(),
                st.sampled_from([0, 0, 0, 3000, 5000, 70000]),
            ),
            build,
        )

        def preflight(example):
            rng, origin, headers = example
            headers = self.clean_headers(headers)
            headers["Origin"] = origin if rng.random() < 0.7 else rng.choice(fuzz.ORIGINS)
            headers["Access-Control-Request-Method"] = rng.choice(["POST", "GET", "PUT", ""])
            headers["Access-Control-Request-Headers"] = rng.choice(["content-type", "x-evil", ""])
            return "OPTIONS", "/cpa/beacon", {"headers": self.clean_headers(headers)}

        self.run(
            "beacon_preflight",
            st.tuples(st.randoms(use_true_random=False), st.text(max_size=60), self.headers_st()),
            preflight,
        )

    def fuzz_webhook(self):
        fuzz = self.fuzz

        def build(example):
            rng, raw, mode, source, age = example
            body = (
                json.dumps(fuzz.call_payload(rng, phone(2, rng.randrange(3)))).encode()
                if raw is None
                else raw
            )
            headers = Signer.webhook_headers(body, time.time() - age)
            if mode == "bad_signature":
                headers["X-CPA-Signature"] = "sha256=" + fuzz.header_value(rng)
            elif mode == "bad_timestamp":
                headers["X-CPA-Timestamp"] = rng.choice(["", "abc", "9" * 30, "-5", "1e9"])
            elif mode == "no_headers":
                headers = {}
            elif mode == "other_encoding":
                with contextlib.suppress(UnicodeDecodeError, UnicodeEncodeError):
                    body = body.decode("utf-8").encode(rng.choice(ENCODINGS))
                headers = Signer.webhook_headers(body, time.time() - age)
            return "POST", f"/cpa/webhook/call/{source}", {"data": body, "headers": headers}

        self.run(
            "webhook",
            st.tuples(
                st.randoms(use_true_random=False),
                st.one_of(st.none(), st.none(), st.none(), st.binary(max_size=10000)),
                st.sampled_from(
                    [
                        "signed",
                        "signed",
                        "signed",
                        "bad_signature",
                        "bad_timestamp",
                        "no_headers",
                        "other_encoding",
                    ]
                ),
                st.one_of(
                    st.just(SOURCE),
                    st.just(SOURCE),
                    st.text(max_size=12).map(self.fuzz.path_segment).filter(bool),
                ),
                st.sampled_from([0, 0, 100, 299, 301, 10**6, -1000]),
            ),
            build,
        )

    def fuzz_website_form(self):
        def build(example):
            rng, fields, extra = example
            data = {
                name: value
                for name, value in zip(FORM_FIELDS, fields, strict=False)
                if value is not None
            }
            data.update(extra)
            if rng.random() < 0.5:
                data["cpa_form"] = self.fuzz.text(rng, 40)
            headers = {"User-Agent": BROWSER, "Referer": self.server.url + "/contactus"}
            if rng.random() < 0.3:
                return (
                    "POST",
                    "/website/form/crm.lead",
                    {"data": self.fuzz.text(rng, 500).encode(), "headers": headers},
                )
            return "POST", "/website/form/crm.lead", {"data": data, "headers": headers}

        self.run(
            "website_form",
            st.tuples(
                st.randoms(use_true_random=False),
                st.lists(st.one_of(st.none(), st.text(max_size=80)), max_size=len(FORM_FIELDS)),
                st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=50), max_size=3),
            ),
            build,
        )

    def fuzz_paths(self):
        def build(example):
            method, segments, query = example
            path = "/cpa/" + "/".join(self.fuzz.path_segment(s) for s in segments)
            return method, path + query, {}

        self.run(
            "random_paths",
            st.tuples(
                st.sampled_from(METHODS),
                st.lists(st.text(max_size=30), min_size=0, max_size=4),
                st.sampled_from(["", "?a=1", "?t=" + "9" * 50, "?redirect=https://evil.example"]),
            ),
            build,
        )


TARGETS = ("pixel_click", "beacon", "webhook", "website_form", "paths")


def part_fuzz(server, rpc, make_pipeline, make_leads, cases=1000, targets=TARGETS):
    team, stages = make_pipeline(rpc, "Fuzz", ["New", "Next"])
    rpc(
        "crm.stage.trigger",
        "create",
        [{"name": "fuzz click", "stage_id": stages["Next"], "event_type": "link_click"}],
    )
    link_ids = setup_public_routes(rpc)
    lead_ids = make_leads(rpc, team, stages["New"], 3, "Fuzzsecret", phone_prefix=2)
    secrets = ["Fuzzsecret", "fuzzsecret"] + [phone(2, i) for i in range(3)]
    fuzzer = Fuzzer(server, lead_ids, secrets, link_ids, cases)
    started = time.time()
    for target in targets:
        getattr(fuzzer, f"fuzz_{target}")()
    elapsed = time.time() - started
    figures = {
        "cases": fuzzer.counts,
        "statuses": {route: dict(sorted(s.items())) for route, s in fuzzer.statuses.items()},
        "requests_per_s": round(sum(fuzzer.counts.values()) / elapsed, 1),
    }
    problems = list(fuzzer.problems[:20])
    if len(fuzzer.problems) > 20:
        problems.append(f"... {len(fuzzer.problems) - 20} more")
    for route, count in fuzzer.counts.items():
        if count < cases:
            problems.append(f"{route}: only {count} cases")
    return figures, problems
