# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Human or machine: verdicts on opens and clicks, and privacy helpers (no ORM here).

Machines open and click emails before people do: Apple Mail Privacy Protection
prefetches every image through Apple's proxies, Gmail's image proxy fetches the pixel,
and corporate link scanners (Microsoft Safe Links, Proofpoint, Mimecast, Barracuda...)
follow every link of an email seconds after delivery. Such events are kept with their
reason but never fire triggers.
"""

import ipaddress
import re
import unicodedata

from . import params

HUMAN = "human"
MACHINE = "machine"
UNKNOWN = "unknown"

# Named thresholds (system parameters, defaults declared in engine/params.py): an open
# or click this soon after sending is a prefetch or a scanner; clicks on distinct links
# of one email within the window form a burst when at least the minimum of links (or
# all of them, if >= 2) are clicked.
THRESHOLDS = {
    name: params.default(name)
    for name in (
        "verdict_min_seconds_after_send",
        "verdict_burst_window_seconds",
        "verdict_burst_min_links",
    )
}

# Apple Mail Privacy Protection fetches images from Apple's 17.0.0.0/8 network with a
# generic user agent; Google and Yahoo image proxies announce themselves.
MPP_NETWORKS = tuple(ipaddress.ip_network(net) for net in ("17.0.0.0/8",))
PREFETCH_AGENTS = (
    ("googleimageproxy", "Gmail image proxy"),
    ("ggpht.com", "Gmail image proxy"),
    ("yahoomailproxy", "Yahoo image proxy"),
    ("outlook-iossdk", "Outlook image prefetch"),
)
SCANNER_AGENTS = (
    ("safelinks", "Microsoft Safe Links"),
    ("microsoft office", "Microsoft Office link preview"),
    ("proofpoint", "Proofpoint URL Defense"),
    ("mimecast", "Mimecast URL Protect"),
    ("barracuda", "Barracuda link protection"),
    ("bingpreview", "Bing link preview"),
    ("slackbot", "Slack link preview"),
    ("python-requests", "script"),
    ("curl/", "script"),
    ("wget/", "script"),
    ("go-http-client", "script"),
    ("headlesschrome", "headless browser"),
    ("bot", "robot user agent"),
    ("spider", "robot user agent"),
    ("crawl", "robot user agent"),
)
# Apple's proxy sends a bare "Mozilla/5.0" with no platform details.
MPP_AGENT_RE = re.compile(r"^Mozilla/5\.0$")

UA_FAMILIES = (
    ("edg/", "Edge"),
    ("opr/", "Opera"),
    ("firefox/", "Firefox"),
    ("chrome/", "Chrome"),
    ("safari/", "Safari"),
    ("thunderbird", "Thunderbird"),
    ("outlook", "Outlook"),
    ("applewebkit", "Apple Mail"),
)


def ua_family(user_agent):
    """Browser family of a user agent: the only part of it we store (privacy)."""
    ua = (user_agent or "").lower()[:512]
    if not ua:
        return "none"
    for needle, reason in SCANNER_AGENTS + PREFETCH_AGENTS:
        if needle in ua:
            return f"robot ({reason})"
    for needle, family in UA_FAMILIES:
        if needle in ua:
            return family
    return "other"


def truncate_ip(ip):
    """The network of an address (IPv4 /24, IPv6 /48), never the full address."""
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return False
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def _in_mpp_network(ip):
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return False
    return any(address in net for net in MPP_NETWORKS if net.version == address.version)


def open_verdict(user_agent, ip, seconds_after_send, thresholds):
    """(verdict, reason) of an email open (pixel fetch).

    :param user_agent: raw User-Agent header
    :param ip: remote address
    :param seconds_after_send: seconds between sending and this open (None: unknown)
    :param thresholds: dict of THRESHOLDS values
    """
    ua = (user_agent or "").strip()
    if _in_mpp_network(ip) or MPP_AGENT_RE.match(ua):
        return MACHINE, "Apple Mail Privacy Protection proxy"
    lowered = ua.lower()
    for needle, reason in PREFETCH_AGENTS + SCANNER_AGENTS:
        if needle in lowered:
            return MACHINE, reason
    if not ua:
        return UNKNOWN, "no user agent"
    minimum = thresholds["verdict_min_seconds_after_send"]
    if seconds_after_send is not None and seconds_after_send < minimum:
        return MACHINE, f"opened {int(seconds_after_send)} s after sending (< {minimum} s)"
    return HUMAN, "browser or mail client"


def click_verdict(user_agent, ip, seconds_after_send, recent_links, total_links, thresholds):
    """(verdict, reason) of a click on a tracked link.

    :param recent_links: number of distinct links of the same email and recipient
        clicked within the burst window, this one included
    :param total_links: number of tracked links in that email (0: unknown)
    """
    lowered = (user_agent or "").lower()
    for needle, reason in SCANNER_AGENTS:
        if needle in lowered:
            return MACHINE, reason
    if not lowered.strip():
        return MACHINE, "no user agent"
    minimum = thresholds["verdict_min_seconds_after_send"]
    if seconds_after_send is not None and seconds_after_send < minimum:
        return MACHINE, f"clicked {int(seconds_after_send)} s after sending (< {minimum} s)"
    if is_burst(recent_links, total_links, thresholds):
        return (
            MACHINE,
            f"burst: {recent_links} links clicked within "
            f"{thresholds['verdict_burst_window_seconds']} s",
        )
    return HUMAN, "browser"


def is_burst(recent_links, total_links, thresholds):
    """Many (or all) links of one email clicked within seconds: a scanner."""
    if recent_links >= thresholds["verdict_burst_min_links"]:
        return True
    return total_links >= 2 and recent_links >= total_links


def burst_possible(total_links, thresholds):
    """Whether clicks on an email of ``total_links`` links (0: unknown) can form a burst:
    if not, a click needs no waiting for the burst window."""
    if not total_links:
        return True
    return is_burst(total_links, total_links, thresholds)


def normalize_text(text):
    """Lower case without accents, spaces collapsed: keyword matching."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(text.casefold().split())
