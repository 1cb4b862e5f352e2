#!/usr/bin/env python3
# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
"""Black-box acceptance of the seed stories (issue #13) against a running server.

Plays each story as an integrator or an administrator would: XML-RPC for the
configuration and the users' actions, real HTTP requests for the public routes (call
webhook, live chat, website form). Standard library only::

    make run            # in another terminal (or in the background)
    python3 tools/acceptance.py [--url http://localhost:8069] [--db crm_pipeline_automation]
                                [--login admin --password admin] [--keep] [--only 1,2,A] [--purge]

Every record it creates is its own (names prefixed "ACC " and a unique suffix: a sales
team and stages per story); demo and Odoo records are never changed. At the end it
deletes what it created (``--keep`` leaves it for a look in the web client;
``--purge`` deletes what earlier runs left). One line
per story, "PASS story …" or "FAIL story …: why"; exit status 1 if any story fails.
"""

import argparse
import sys
import traceback
import xmlrpc.client

from acceptance_base import Server, StoryFailed
from acceptance_capabilities import (
    story_a_field_changed,
    story_c_activity_done,
    story_d_meeting,
    story_e_business_hours,
    story_f_email_salesperson,
    story_g_channel_post,
    story_h_lost_from_stage,
    story_i_website_form,
)
from acceptance_stories import (
    story_1_calls,
    story_2_stage_by_name,
    story_3_activity_placeholder,
    story_4_sms,
    story_5_copy_user,
    story_6_chat_keyword,
    story_7_template_done_once,
    story_8_score_floor,
    story_9_dry_run,
)

STORIES = [
    ("1", "calls by number, one lead for simultaneous unknown calls", story_1_calls),
    ("2", "update rule sets stage 'Won' of the lead's pipeline", story_2_stage_by_name),
    ("3", "activity summary with {partner_name}", story_3_activity_placeholder),
    ("4", "SMS to the lead's mobile; none without a number", story_4_sms),
    ("5", "copied lead keeps the chosen salesperson", story_5_copy_user),
    ("6", "chat keyword after 200 characters moves the lead", story_6_chat_keyword),
    ("7", "template activity done once, still in the report", story_7_template_done_once),
    ("8", "-5 points on a lead at 0", story_8_score_floor),
    ("9", "dry-run over XML-RPC", story_9_dry_run),
    ("A", "field value changed (tag added), 1 and 50 leads", story_a_field_changed),
    ("C", "activity of a type marked done moves the lead", story_c_activity_done),
    ("D", "meeting scheduled: move, activity 2 h before, follows, cancelled", story_d_meeting),
    ("E", "business hours: outside fires, inside does not", story_e_business_hours),
    ("F", "email rule to the salesperson only", story_f_email_salesperson),
    ("G", "message rule posts in a Discuss channel", story_g_channel_post),
    ("H", "lost rule runs for leads lost from X only", story_h_lost_from_stage),
    ("I", "website form with a chosen form: lead created and moved", story_i_website_form),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://localhost:8069")
    parser.add_argument("--db", default="crm_pipeline_automation")
    parser.add_argument("--login", default="admin")
    parser.add_argument("--password", default="admin")
    parser.add_argument("--only", help="comma-separated story keys (e.g. 1,4,A)")
    parser.add_argument("--keep", action="store_true", help="keep the records created")
    parser.add_argument(
        "--purge", action="store_true", help="only delete the ACC records of earlier runs"
    )
    parser.add_argument("--verbose", action="store_true", help="tracebacks of failures")
    args = parser.parse_args()
    srv = Server(args.url, args.db, args.login, args.password)
    if args.purge:
        problems = srv.purge()
        for problem in problems:
            print(f"note: not deleted: {problem}")
        return 1 if problems else 0
    only = set(args.only.upper().split(",")) if args.only else None
    failed = 0
    for key, title, play in STORIES:
        if only and key not in only:
            continue
        try:
            detail = play(srv)
            print(f"PASS story {key} ({title}): {detail}", flush=True)
        except StoryFailed as error:
            failed += 1
            print(f"FAIL story {key} ({title}): {error}", flush=True)
        except xmlrpc.client.Fault as fault:
            failed += 1
            lines = [line for line in fault.faultString.strip().splitlines() if line.strip()]
            print(f"FAIL story {key} ({title}): server error: {lines[-1] if lines else fault}")
            if args.verbose:
                print(fault.faultString)
        except Exception as error:
            failed += 1
            print(f"FAIL story {key} ({title}): {type(error).__name__}: {error}", flush=True)
            if args.verbose:
                traceback.print_exc()
    if not args.keep:
        for problem in srv.cleanup():
            print(f"note: not deleted: {problem}")
    print(f"{'FAILED' if failed else 'OK'}: {failed} stor{'y' if failed == 1 else 'ies'} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
