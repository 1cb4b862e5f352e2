# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""URLs of tracked visits and of the sites allowed to post beacons."""

from urllib.parse import urlsplit


def url_host(url):
    """Lower-case host name of an absolute URL, "" if there is none or it is invalid."""
    try:
        return (urlsplit(url or "").hostname or "").lower()
    except ValueError:
        return ""


def is_http_url(url):
    """Whether ``url`` is an absolute http(s) URL with a host."""
    return (
        isinstance(url, str)
        and url.lower().startswith(("http://", "https://"))
        and bool(url_host(url))
    )


def host_allowed(origin, domains):
    """Whether the host of ``origin`` is one of ``domains`` (comma-separated hosts or
    URLs, ``*.example.com`` for subdomains)."""
    host = url_host(origin)
    if not host:
        return False
    for domain in (d.strip().lower() for d in domains.split(",")):
        domain = url_host(domain) if "://" in domain else domain
        if domain and (host == domain or (domain.startswith("*.") and host.endswith(domain[1:]))):
            return True
    return False
