# Copyright 2026 crm_pipeline_automation authors
# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl-3.0).
import logging
from collections import defaultdict
from datetime import datetime, time

import pytz
from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.tools import SQL
from odoo.tools.misc import format_datetime

from ..engine import dispatch as automation_dispatch
from .crm_lead import NO_TOUCH_KEY

_logger = logging.getLogger(__name__)

# Activities claimed per batch by the notice cron (one commit per batch outside tests).
NOTICE_BATCH = 200
# Activities listed in a notice of several (the others: a link to all of them).
NOTICE_LIST_LIMIT = 20
# Context key: _action_done is completing activities; template ones are archived,
# not deleted (reports need them).
KEEP_DONE_KEY = "crm_activity_keep_template_done"
# Context key: internal writes keeping deadline, due date and notices in step.
SYNC_KEY = "crm_activity_deadline_sync"
# A Date-only deadline means "by the end of that day" in the assignee's time zone.
END_OF_DAY = time(23, 59)


def _minute(dt):
    return dt.replace(second=0, microsecond=0) if dt else dt


class MailActivity(models.Model):
    _inherit = "mail.activity"

    deadline_datetime = fields.Datetime(
        "Deadline",
        index=True,
        help="Due moment, to the minute (UTC in the database, shown in your time zone). "
        "The due date is its local date for the assignee.",
    )
    done_datetime = fields.Datetime("Done on", readonly=True, copy=False)
    done_late = fields.Boolean(
        compute="_compute_done_late",
        store=True,
        help="Done after its deadline.",
    )
    is_late = fields.Boolean(
        "Late",
        compute="_compute_is_late",
        search="_search_is_late",
        help="Done after its deadline, or still open past it.",
    )
    activity_template_id = fields.Many2one(
        "crm.activity.template",
        "Activity template",
        index="btree_not_null",
        ondelete="set null",
        readonly=True,
        help="Template that created the activity; such activities are kept when done.",
    )
    # Meeting the deadline counts from (template "before / after the lead's next
    # meeting"): moving it moves the deadline, cancelling it cancels the activity.
    cpa_meeting_id = fields.Many2one(
        "calendar.event",
        "Meeting",
        index="btree_not_null",
        ondelete="set null",
        readonly=True,
        help="Meeting the deadline counts from; rescheduling it moves the deadline.",
    )
    reminder_datetime = fields.Datetime(
        "Reminder", readonly=True, copy=False, help="When the assignee is reminded."
    )
    reminder_sent_at = fields.Datetime(readonly=True, copy=False)
    overdue_sent_at = fields.Datetime("Overdue notice sent", readonly=True, copy=False)
    late_fired_at = fields.Datetime(
        "Late trigger checked",
        readonly=True,
        copy=False,
        help='When the activity was found late for the "activity late" triggers (once).',
    )

    @api.depends("done_datetime", "deadline_datetime")
    def _compute_done_late(self):
        for activity in self:
            activity.done_late = bool(
                activity.done_datetime
                and activity.deadline_datetime
                and activity.done_datetime > activity.deadline_datetime
            )

    @api.depends("done_late", "deadline_datetime", "active")
    def _compute_is_late(self):
        now = fields.Datetime.now()
        for activity in self:
            activity.is_late = activity.done_late or bool(
                activity.active and activity.deadline_datetime and activity.deadline_datetime < now
            )

    def _search_is_late(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise NotImplementedError(_("Unsupported search on 'Late'."))
        late = [
            "|",
            ("done_late", "=", True),
            "&",
            ("active", "=", True),
            ("deadline_datetime", "<", fields.Datetime.now()),
        ]
        return late if (operator == "=") == value else ["!"] + late

    @api.onchange("deadline_datetime", "user_id")
    def _onchange_deadline_datetime(self):
        for activity in self.filtered("deadline_datetime"):
            activity.date_deadline = self._local_date(
                activity.deadline_datetime, activity.user_id.sudo().tz
            )

    def init(self):
        # The notice cron runs every few minutes over a table of open activities that
        # keeps growing: these partial indexes hold only what may still be notified,
        # so each run reads the due rows only (see bench/bench_activity_reminders.py).
        self.env.cr.execute(
            SQL(
                "CREATE INDEX IF NOT EXISTS mail_activity_cpa_reminder_due_idx "
                "ON mail_activity (reminder_datetime) "
                "WHERE reminder_sent_at IS NULL AND reminder_datetime IS NOT NULL AND active"
            )
        )
        self.env.cr.execute(
            SQL(
                "CREATE INDEX IF NOT EXISTS mail_activity_cpa_overdue_due_idx "
                "ON mail_activity (deadline_datetime) "
                "WHERE overdue_sent_at IS NULL AND activity_template_id IS NOT NULL AND active"
            )
        )
        # Open activities of leads not yet found late ("activity late" triggers).
        self.env.cr.execute(
            SQL(
                "CREATE INDEX IF NOT EXISTS mail_activity_cpa_late_due_idx "
                "ON mail_activity (deadline_datetime) "
                "WHERE late_fired_at IS NULL AND active AND res_model = 'crm.lead'"
            )
        )

    # ------------------------------------------------------------------
    # Deadline <-> due date
    # ------------------------------------------------------------------

    @api.model
    def _local_date(self, deadline, tz_name):
        """Local date of the naive UTC ``deadline`` in ``tz_name``."""
        tz = pytz.timezone(tz_name or "UTC")
        return pytz.utc.localize(deadline).astimezone(tz).date()

    @api.model
    def _local_moment(self, day, at, tz_name):
        """Naive UTC moment of local ``day`` at ``at`` in ``tz_name``."""
        tz = pytz.timezone(tz_name or "UTC")
        return tz.localize(datetime.combine(day, at)).astimezone(pytz.utc).replace(tzinfo=None)

    @api.model_create_multi
    def create(self, vals_list):
        Users = self.env["res.users"].sudo()
        templates = self.env["crm.activity.template"].sudo()
        for vals in vals_list:
            user = Users.browse(vals.get("user_id") or self.env.uid)
            if vals.get("deadline_datetime"):
                deadline = _minute(fields.Datetime.to_datetime(vals["deadline_datetime"]))
                vals["deadline_datetime"] = deadline
                vals["date_deadline"] = self._local_date(deadline, user.tz)
            else:
                # Same default due date as core (the creator's today).
                day = fields.Date.to_date(vals.get("date_deadline")) or fields.Date.context_today(
                    self
                )
                vals["date_deadline"] = day
                vals["deadline_datetime"] = self._local_moment(day, END_OF_DAY, user.tz)
            template = templates.browse(vals.get("activity_template_id"))
            if template and template.reminder_count and "reminder_datetime" not in vals:
                reminder = vals["deadline_datetime"] - template._reminder_delta()
                # A reminder already due at creation would repeat the assignment notice.
                if reminder > fields.Datetime.now():
                    vals["reminder_datetime"] = reminder
        activities = super().create(vals_list)
        activities._schedule_notice_cron()
        # A planned activity may meet a stage gate: the leads' held moves are tried.
        Lead = self.env["crm.lead"]
        if Lead._automation_config().gate_stage_ids:
            lead_ids = {a.res_id for a in activities if a.res_model == "crm.lead"}
            if lead_ids:
                self.env["crm.stage.gate.hold"]._release(Lead.browse(lead_ids).exists())
        return activities

    def write(self, vals):
        if self.env.context.get(SYNC_KEY):
            return super().write(vals)
        now = fields.Datetime.now()
        newly_done = self.browse()
        if "active" in vals and not vals["active"]:
            # Keep the first completion moment when archived twice.
            newly_done = self.filtered("active")
        if "deadline_datetime" in vals:
            deadline = _minute(fields.Datetime.to_datetime(vals["deadline_datetime"]))
            vals = {k: v for k, v in vals.items() if k != "date_deadline"}
            vals["deadline_datetime"] = deadline
        times_of_day = {}
        if "date_deadline" in vals:
            # Moving the due date keeps the local time of day of the deadline.
            for activity in self:
                tz = pytz.timezone(activity.user_id.sudo().tz or "UTC")
                times_of_day[activity] = (
                    pytz.utc.localize(activity.deadline_datetime).astimezone(tz).time()
                    if activity.deadline_datetime
                    else END_OF_DAY
                )
        result = super().write(vals)
        if newly_done:
            newly_done.with_context(**{SYNC_KEY: True}).write({"done_datetime": now})
        if vals.get("active"):
            self.with_context(**{SYNC_KEY: True}).write({"done_datetime": False})
        if times_of_day:
            day = fields.Date.to_date(vals["date_deadline"])
            for activity, at in times_of_day.items():
                activity.with_context(**{SYNC_KEY: True}).write(
                    {"deadline_datetime": self._local_moment(day, at, activity.user_id.sudo().tz)}
                )
        if "deadline_datetime" in vals or "user_id" in vals:
            # The deadline is a moment: the due date is its local date for the assignee.
            self._sync_date_deadline()
        if "deadline_datetime" in vals or times_of_day:
            self._reset_notices()
        return result

    def _sync_date_deadline(self):
        """Set ``date_deadline`` to the local date of ``deadline_datetime``."""
        groups = defaultdict(lambda: self.browse())
        for activity in self.filtered("deadline_datetime"):
            day = self._local_date(activity.deadline_datetime, activity.user_id.sudo().tz)
            if activity.date_deadline != day:
                groups[day] |= activity
        for day, activities in groups.items():
            activities.with_context(**{SYNC_KEY: True}).write({"date_deadline": day})

    def _reset_notices(self):
        """The deadline moved: notices not yet due are sent again at the new times."""
        now = fields.Datetime.now()
        for activity in self:
            vals = {}
            template = activity.activity_template_id
            if template.reminder_count and activity.deadline_datetime:
                reminder = activity.deadline_datetime - template._reminder_delta()
                vals["reminder_datetime"] = reminder if reminder > now else False
                vals["reminder_sent_at"] = False
            if activity.deadline_datetime and activity.deadline_datetime > now:
                vals["overdue_sent_at"] = False
            if vals:
                activity.with_context(**{SYNC_KEY: True}).write(vals)
        self._schedule_notice_cron()

    # ------------------------------------------------------------------
    # Done activities from templates are kept
    # ------------------------------------------------------------------

    def _action_done(self, feedback=False, attachment_ids=None):
        lead_ids = [activity.res_id for activity in self if activity.res_model == "crm.lead"]
        done = self._automation_event_rows() if lead_ids else []
        # Core archives activities of "keep done" types and deletes the others; with
        # this key our unlink() archives template activities instead of deleting them.
        result = super(MailActivity, self.with_context(**{KEEP_DONE_KEY: True}))._action_done(
            feedback=feedback, attachment_ids=attachment_ids
        )
        # An activity marked done by a user is work on its lead.
        if lead_ids and not self.env.user._is_superuser():
            self.env["crm.lead"].browse(lead_ids).exists()._automation_touch()
        if done:
            # sudo: events are the engine's records; the triggers are the managers'.
            self.env["crm.lead.event"].sudo()._record_activities("activity_done", done)
        return result

    def _automation_event_rows(self):
        """(lead id, activity id, type id, summary) of the lead activities of ``self``
        for "activity done" triggers; none when no such trigger exists (cached: no
        query) or when the stage change completes them (not work of a user)."""
        if self.env.context.get(NO_TOUCH_KEY):
            return []
        if not self.env["crm.lead"]._automation_config().activity_done:
            return []
        return [
            (a.res_id, a.id, a.activity_type_id.id, a.summary or a.activity_type_id.name)
            for a in self
            if a.res_model == "crm.lead"
        ]

    @api.model
    def _to_close_on_stage_change(self, leads):
        """Open activities of ``leads`` whose template completes them on a stage change."""
        if not leads or not leads._automation_config().template_done_on_exit:
            return self
        # Open ones only, whatever the caller's active_test: done ones are archived.
        return self.sudo().search(
            [
                ("res_model", "=", "crm.lead"),
                ("res_id", "in", leads.ids),
                ("active", "=", True),
                ("activity_template_id.auto_done_on_stage_change", "=", True),
            ]
        )

    def _close_on_stage_change(self):
        """Complete the activities of ``self`` still open: their lead changed stage."""
        activities = self.exists().filtered("active")
        if activities:
            # sudo: the salesperson moving the lead completes activities of colleagues
            # too (the template, configured by a manager, says so).
            activities.sudo().action_feedback(
                feedback=_("Done automatically: the lead changed stage.")
            )

    def unlink(self):
        if self.env.context.get(KEEP_DONE_KEY):
            keep = self.filtered(lambda a: a.activity_template_id and a.active)
            if keep:
                keep.action_archive()
                return super(MailActivity, self - keep).unlink()
        return super().unlink()

    # ------------------------------------------------------------------
    # Reminders and overdue notices
    # ------------------------------------------------------------------

    def _schedule_notice_cron(self):
        """Wake the notice cron at the reminder and deadline minutes of ``self``."""
        now = fields.Datetime.now()
        late_since = self.env["crm.lead"]._automation_config().activity_late_since
        moments = set()
        for activity in self:
            if activity.reminder_datetime and not activity.reminder_sent_at:
                moments.add(activity.reminder_datetime)
            template_due = activity.activity_template_id and not activity.overdue_sent_at
            if template_due or (late_since and activity.res_model == "crm.lead"):
                moments.add(activity.deadline_datetime)
        moments = sorted({_minute(m) for m in moments if m and m > now})
        if moments:
            cron = self.env.ref(
                "crm_pipeline_automation.ir_cron_crm_activity_deadline_notices",
                raise_if_not_found=False,
            )
            if cron:
                cron.sudo()._trigger(at=moments)

    @api.model
    def _cron_send_deadline_notices(self):
        """Send the due reminders and overdue notices, and fire the "activity late"
        triggers, each once (cron)."""
        now = fields.Datetime.now()
        auto_commit = automation_dispatch.may_commit(self.env)
        done = 0
        while True:
            reminders = self._claim_due("reminder", now)
            overdue = self._claim_due("overdue", now)
            late = self._claim_late(now)
            if not reminders and not overdue and not late:
                break
            reminders._send_reminder()
            overdue._send_overdue()
            late._fire_late()
            done += len(reminders) + len(overdue) + len(late)
            self.env["ir.cron"]._notify_progress(done=done, remaining=0)
            if auto_commit:
                # Claimed rows are marked sent in this batch's transaction: commit so
                # that a crash later does not send them again, and to release the
                # row locks of the batch.
                self.env.cr.commit()  # pylint: disable=invalid-commit
        self._schedule_next_notice(now)
        _logger.info("Activity deadlines: %s notices sent", done)
        return done

    @api.model
    def _claim_due(self, kind, now):
        """Mark due, unsent notices of ``kind`` as sent and return their activities.

        One UPDATE per batch on the partial index of ``kind``: only due rows are read.
        SKIP LOCKED lets a second runner (or a user editing an activity) pass over
        rows being handled, never claiming one twice.
        """
        if kind == "reminder":
            where = SQL(
                "reminder_sent_at IS NULL AND reminder_datetime IS NOT NULL AND active "
                "AND reminder_datetime <= %s",
                now,
            )
            column, order = SQL.identifier("reminder_sent_at"), SQL.identifier("reminder_datetime")
        else:
            where = SQL(
                "overdue_sent_at IS NULL AND activity_template_id IS NOT NULL AND active "
                "AND deadline_datetime <= %s",
                now,
            )
            column, order = SQL.identifier("overdue_sent_at"), SQL.identifier("deadline_datetime")
        self.flush_model()
        rows = self.env.execute_query(
            SQL(
                """
            UPDATE mail_activity a SET %(column)s = %(now)s
              FROM (SELECT id FROM mail_activity WHERE %(where)s
                     ORDER BY %(order)s LIMIT %(limit)s FOR UPDATE SKIP LOCKED) due
             WHERE a.id = due.id
            RETURNING a.id
                """,
                column=column,
                now=now,
                where=where,
                order=order,
                limit=NOTICE_BATCH,
            )
        )
        activities = self.browse([row[0] for row in rows])
        activities.invalidate_recordset(["reminder_sent_at", "overdue_sent_at"])
        return activities

    @api.model
    def _claim_late(self, now):
        """Mark open lead activities past their deadline as found late, once, and
        return them (only when an "activity late" trigger exists: else no query).

        Same claim as the notices: one UPDATE per batch on a partial index, SKIP
        LOCKED. Deadlines before the oldest such trigger was created never fire.
        """
        since = self.env["crm.lead"]._automation_config().activity_late_since
        if not since:
            return self.browse()
        self.flush_model()
        rows = self.env.execute_query(
            SQL(
                """
            UPDATE mail_activity a SET late_fired_at = %(now)s
              FROM (SELECT id FROM mail_activity
                     WHERE late_fired_at IS NULL AND active AND res_model = 'crm.lead'
                       AND deadline_datetime <= %(now)s AND deadline_datetime >= %(since)s
                     ORDER BY deadline_datetime LIMIT %(limit)s FOR UPDATE SKIP LOCKED) due
             WHERE a.id = due.id
            RETURNING a.id
                """,
                now=now,
                since=since,
                limit=NOTICE_BATCH,
            )
        )
        activities = self.browse([row[0] for row in rows])
        activities.invalidate_recordset(["late_fired_at"])
        return activities

    def _fire_late(self):
        """ "Activity late" events of ``self`` (claimed), each isolated: a failing move
        is logged and does not stop the others."""
        Event = self.env["crm.lead.event"].sudo()
        for activity in self:
            row = (
                activity.res_id,
                activity.id,
                activity.activity_type_id.id,
                activity.summary or activity.activity_type_id.name,
            )
            try:
                with self.env.cr.savepoint():
                    Event._record_activities("activity_late", [row])
            except Exception:
                _logger.exception("Late activity %s: its triggers failed", activity.id)

    @api.model
    def _schedule_next_notice(self, now):
        rows = self.env.execute_query(
            SQL(
                """
            SELECT min(m) FROM (
                SELECT min(reminder_datetime) AS m FROM mail_activity
                 WHERE reminder_sent_at IS NULL AND reminder_datetime IS NOT NULL AND active
                   AND reminder_datetime > %(now)s
                UNION ALL
                SELECT min(deadline_datetime) FROM mail_activity
                 WHERE overdue_sent_at IS NULL AND activity_template_id IS NOT NULL AND active
                   AND deadline_datetime > %(now)s) t
                """,
                now=now,
            )
        )
        moments = [rows[0][0]] if rows and rows[0][0] else []
        since = self.env["crm.lead"]._automation_config().activity_late_since
        if since:
            late = self.env.execute_query(
                SQL(
                    "SELECT min(deadline_datetime) FROM mail_activity "
                    "WHERE late_fired_at IS NULL AND active AND res_model = 'crm.lead' "
                    "AND deadline_datetime > %s",
                    now,
                )
            )
            if late and late[0][0]:
                moments.append(late[0][0])
        if moments:
            self.env.ref("crm_pipeline_automation.ir_cron_crm_activity_deadline_notices")._trigger(
                at=min(moments)
            )

    def _send_reminder(self):
        now = fields.Datetime.now()
        for activity in self:
            if activity.deadline_datetime <= now:
                continue  # too late for a reminder: the overdue notice says it
            activity._send_notice(
                activity.user_id,
                _("Reminder: %(summary)s", summary=activity._notice_label()),
                _(
                    "%(summary)s on %(record)s is due on %(deadline)s.",
                    summary=activity._notice_label(),
                    record=activity.res_name,
                    deadline=activity._format_deadline(activity.user_id),
                ),
            )

    def _send_overdue(self):
        for activity in self:
            users = activity.user_id
            record = self.env[activity.res_model].browse(activity.res_id)
            if activity.activity_template_id.notify_leader_overdue and "team_id" in record:
                users |= record.sudo().team_id.user_id
            for user in users:
                activity._send_notice(
                    user,
                    _("Overdue: %(summary)s", summary=activity._notice_label()),
                    _(
                        "%(summary)s on %(record)s, assigned to %(user)s, was due on "
                        "%(deadline)s and is not done.",
                        summary=activity._notice_label(),
                        record=activity.res_name,
                        user=activity.user_id.name,
                        deadline=activity._format_deadline(user),
                    ),
                )

    @api.model
    def _cpa_create_notified(self, vals_list, origin=""):
        """``create`` of the activities a rule plans for a group of jobs at once; the
        assignees are told as by Odoo's ``create``, batched (``_cpa_notify_assigned``).

        :param origin: name of the rule, said in a notice of several activities
        """
        if self.env.context.get("mail_activity_quick_update"):
            return self.create(vals_list)  # the caller asked for no notice at all
        activities = self.with_context(mail_activity_quick_update=True).create(vals_list)
        activities = activities.with_env(self.env)
        activities._cpa_notify_assigned(origin)
        return activities

    def _cpa_notify_assigned(self, origin=""):
        """Tell the assignees of ``self`` (created together) what Odoo's ``create``
        tells them, with one notice per assignee instead of one per activity: an
        assignee of one activity gets Odoo's own notice (``action_notify``), of several
        one notice listing them (a mass edit of 200 leads: one email per salesperson,
        not 200). As in Odoo, the acting user is not told of their own activities."""
        by_user = defaultdict(list)
        for activity in self:
            if activity.user_id and activity.user_id != self.env.user:
                by_user[activity.user_id].append(activity.id)
        for user, ids in by_user.items():
            # sudo: as Odoo's create does for assignees the acting user may not read.
            activities = self.browse(ids).sudo().with_context(lang=user.lang or self.env.lang)
            if len(activities) == 1:
                activities.action_notify()
            else:
                activities._cpa_notify_several(user, origin)

    def _cpa_notify_several(self, user, origin):
        """One notice to ``user`` of the activities ``self`` (in the user's language),
        like Odoo's ``mail.message_activity_assigned``: the first NOTICE_LIST_LIMIT
        listed, then a link to all the user's activities (CRM's "My Activities")."""
        base_url = self[:1].get_base_url()
        models_description = {
            model: self.env["ir.model"]._get(model).display_name
            for model in set(self.mapped("res_model"))
        }
        deadlines = {}  # activities planned together mostly share their deadline
        rows = []
        for activity in self[:NOTICE_LIST_LIMIT]:
            moment = activity.deadline_datetime
            if moment not in deadlines:
                deadlines[moment] = activity._format_deadline(user)
            rows.append(
                {
                    "activity": activity,
                    "url": f"{base_url}/mail/view?model={activity.res_model}"
                    f"&res_id={activity.res_id}",
                    "model_description": models_description[activity.res_model],
                    "deadline": deadlines[moment],
                }
            )
        body = self.env["ir.qweb"]._render(
            "crm_pipeline_automation.message_activities_assigned",
            {
                "user": user,
                "origin": origin,
                "rows": rows,
                "more": len(self) - len(rows),
                "all_url": f"{base_url}/odoo/action-crm.crm_lead_action_my_activities",
            },
            minimal_qcontext=True,
        )
        self.env["mail.thread"].message_notify(
            partner_ids=user.partner_id.ids,
            body=body,
            subject=_("%(count)s activities assigned to you", count=len(self)),
            model_description=_("Activities"),
            email_layout_xmlid="mail.mail_notification_light",
        )

    def _notice_label(self):
        self.ensure_one()
        return self.summary or self.activity_type_id.name

    def _format_deadline(self, user):
        self.ensure_one()
        return format_datetime(
            self.env,
            self.deadline_datetime,
            tz=user.tz or "UTC",
            dt_format="short",
            lang_code=user.lang,
        )

    def _send_notice(self, user, subject, text):
        """Inbox notification and email to ``user`` about ``self``, isolated."""
        self.ensure_one()
        record = self.env[self.res_model].browse(self.res_id).sudo()
        try:
            with self.env.cr.savepoint():
                message = record.message_notify(
                    partner_ids=user.partner_id.ids,
                    subject=subject,
                    body=Markup("<p>%s</p>") % text,
                    subtype_xmlid="mail.mt_note",
                    model_description=record._description,
                )
                if user.notification_type == "inbox":
                    # Users reading their inbox get the email too: a deadline must
                    # reach them when Odoo is closed.
                    self.env["mail.mail"].sudo().create(
                        {
                            "mail_message_id": message.id,
                            "recipient_ids": [(4, user.partner_id.id)],
                            "body_html": message.body,
                            "subject": subject,
                            "auto_delete": True,
                        }
                    )
        except Exception:
            _logger.exception("Activity %s: notice to user %s failed", self.id, user.id)
