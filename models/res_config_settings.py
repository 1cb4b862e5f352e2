# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
from odoo import fields, models

from ..engine import params


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    cpa_snippet_domains = fields.Char(
        "Snippet domains",
        config_parameter=params.key("snippet_domains"),
        help="Sites allowed to post page visits (CORS), comma-separated hosts; "
        "*.example.com for subdomains.",
    )
    cpa_event_retention_days = fields.Integer(
        "Keep events (days)",
        config_parameter=params.key("event_retention_days"),
        default=params.default("event_retention_days"),
        help="Engagement events older than this are deleted (0: keep all).",
    )
    cpa_token_validity_days = fields.Integer(
        "Tracking links valid (days)",
        config_parameter=params.key("token_validity_days"),
        default=params.default("token_validity_days"),
        help="Open pixels, click links and tracking cookies older than this are refused.",
    )
    cpa_verdict_min_seconds_after_send = fields.Integer(
        "Machine if within (seconds after sending)",
        config_parameter=params.key("verdict_min_seconds_after_send"),
        default=params.default("verdict_min_seconds_after_send"),
        help="Opens and clicks this soon after sending are prefetchers or link scanners.",
    )
    cpa_verdict_burst_window_seconds = fields.Integer(
        "Burst window (seconds)",
        config_parameter=params.key("verdict_burst_window_seconds"),
        default=params.default("verdict_burst_window_seconds"),
        help="Clicks on several links of one email within this window are a link scanner.",
    )
    cpa_verdict_burst_min_links = fields.Integer(
        "Burst size (links)",
        config_parameter=params.key("verdict_burst_min_links"),
        default=params.default("verdict_burst_min_links"),
        help="Distinct links clicked within the burst window that make a burst "
        "(all the links of a 2-link email also do).",
    )
    cpa_call_secret = fields.Char(
        "Call webhook secret",
        config_parameter=params.key("call_source.default.secret"),
        help="Secret of the call source 'default' (/cpa/webhook/call/default); other sources: "
        "system parameters crm_pipeline_automation.call_source.<name>.secret.",
    )
    cpa_call_create_lead = fields.Boolean(
        "Create leads for unknown callers",
        config_parameter=params.key("call_source.default.create_lead"),
        help="A call from a number no lead has creates a lead.",
    )
    cpa_score_email_open = fields.Integer(
        "Points: email opened",
        config_parameter=params.key("score_email_open"),
        default=params.default("score_email_open"),
        help="Engagement points.",
    )
    cpa_score_link_click = fields.Integer(
        "Points: link clicked",
        config_parameter=params.key("score_link_click"),
        default=params.default("score_link_click"),
        help="Engagement points.",
    )
    cpa_score_url_visited = fields.Integer(
        "Points: page visited",
        config_parameter=params.key("score_url_visited"),
        default=params.default("score_url_visited"),
        help="Engagement points.",
    )
    cpa_score_form_submitted = fields.Integer(
        "Points: form sent",
        config_parameter=params.key("score_form_submitted"),
        default=params.default("score_form_submitted"),
        help="Engagement points.",
    )
    cpa_score_email_received = fields.Integer(
        "Points: email received",
        config_parameter=params.key("score_email_received"),
        default=params.default("score_email_received"),
        help="Engagement points.",
    )
    cpa_score_call_incoming = fields.Integer(
        "Points: incoming call",
        config_parameter=params.key("score_call_incoming"),
        default=params.default("score_call_incoming"),
        help="Engagement points.",
    )
    cpa_score_chat_started = fields.Integer(
        "Points: chat started",
        config_parameter=params.key("score_chat_started"),
        default=params.default("score_chat_started"),
        help="Engagement points.",
    )
