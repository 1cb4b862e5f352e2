/* crm_pipeline_automation: page-visit beacon for websites that are not the Odoo website.
 *
 * <script async src="https://odoo.example.com/crm_pipeline_automation/static/src/snippet/cpa_track.js"
 *         data-cpa-endpoint="https://odoo.example.com/cpa/beacon"></script>
 *
 * A visitor who arrives from a tracked email link carries ?cpa_t=<signed token>; the
 * snippet keeps it in a first-party cookie of this site (180 days) and posts each page
 * view to the beacon route. Without a token it sends nothing. The site's domain must be
 * listed in Odoo (CRM settings, "Snippet domains") or the beacon is refused (CORS).
 */
(function () {
    "use strict";
    var COOKIE = "cpa_t";
    var script = document.currentScript;
    var endpoint = script && script.getAttribute("data-cpa-endpoint");
    if (!endpoint) {
        return;
    }
    function readCookie() {
        var match = document.cookie.match(/(?:^|;\s*)cpa_t=([0-9a-f.]+)/);
        return match ? match[1] : null;
    }
    var params = new URLSearchParams(window.location.search);
    var token = params.get(COOKIE);
    if (token && /^[0-9a-f.]{1,200}$/.test(token)) {
        document.cookie = COOKIE + "=" + token + ";path=/;max-age=" + 180 * 86400 + ";SameSite=Lax" +
            (window.location.protocol === "https:" ? ";Secure" : "");
    } else {
        token = readCookie();
    }
    if (!token) {
        return;
    }
    function send() {
        var body = JSON.stringify({t: token, u: window.location.href.slice(0, 2000)});
        // text/plain: a "simple" request, no CORS preflight.
        if (navigator.sendBeacon && navigator.sendBeacon(endpoint, new Blob([body], {type: "text/plain"}))) {
            return;
        }
        fetch(endpoint, {method: "POST", body: body, mode: "cors", keepalive: true,
            headers: {"Content-Type": "text/plain"}}).catch(function () {});
    }
    send();
    window.addEventListener("popstate", send);
})();
