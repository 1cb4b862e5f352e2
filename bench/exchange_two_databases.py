"""Move the demo automation from one real database to a fresh one, through the JSON file.

Run it with `python3 tools/cpa.py script bench/exchange_two_databases.py` (it takes the
test lock: no Odoo test suite runs meanwhile). In the development cluster it uses

- the source: the `make test-dev` database of this checkout (`cpa_test_dev_<key>`, with
  the demo pipelines Direct Sales and Installation; run `make test-dev` once first), read
  only;
- the target: a new database `cpa_exchange_<key>` with the addon installed without demo
  data, dropped at the end (`--keep` keeps it).

It exports both demo pipelines from the source, then in the target:

1. imports Direct Sales before Installation exists: the file's copy rule targets the
   Installation pipeline, so the import must fail naming it and write nothing;
2. imports Installation into a new team (its own stages created), then Direct Sales into
   a new team (stages matched by name and sequence: Odoo's default stages, shared by
   every pipeline, are found; the team's own are created);
3. exports both again and compares them with the source's files: triggers, rules and
   activity templates must be identical, and so are the stage lists.

It prints the timings and exits non-zero when a check fails.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tools"))
import cpa  # noqa: E402  the project's set-up code: cluster, config, paths


def log(msg):
    print(f"[exchange] {msg}", file=sys.stderr, flush=True)


def odoo_env(src, config, dbname):
    import odoo
    from odoo import api
    from odoo.modules.registry import Registry

    if not getattr(odoo_env, "parsed", False):  # one configuration for both databases
        odoo.tools.config.parse_config(["-c", str(config), "--log-level=warn"])
        odoo_env.parsed = True
    cr = Registry(dbname).cursor()
    return api.Environment(cr, odoo.SUPERUSER_ID, {"tracking_disable": True})


def counts(env):
    models = ["crm.stage", "crm.stage.trigger", "crm.automation.rule", "crm.activity.template"]
    return {m: env[m].with_context(active_test=False).search_count([]) for m in models}


def import_file(env, data, team, create_missing):
    exchange = env["crm.automation.exchange"]
    candidates = exchange._pipeline_stages(team)
    # Only names and sequences are trusted here (a pipeline shows Odoo's shared "New" next
    # to its own): a stage without the same name and sequence is created.
    stage_map = {
        item["key"]: candidates.filtered(
            lambda s, i=item: (s.name, s.sequence) == (i["name"], i["sequence"])
        )[:1]
        for item in data["stages"]
    }
    plan = exchange._plan_import(data, team, stage_map, create_missing=create_missing)
    return exchange._apply_import(plan)


def comparable(data):
    """Sections that must be identical (stages are compared by name apart)."""
    return {section: data[section] for section in ("activity_templates", "triggers", "rules")}


def without_unknown_xmlids(value, env, dropped):
    """``value`` without the XML ids that do not exist in ``env``'s database (the demo
    records of the source): the target's re-export names those records by name only."""
    if isinstance(value, dict):
        result = {}
        for key, inner in value.items():
            if key == "xmlid" and not env.ref(inner, raise_if_not_found=False):
                dropped.add(inner)
                continue
            result[key] = without_unknown_xmlids(inner, env, dropped)
        return result
    if isinstance(value, list):
        return [without_unknown_xmlids(inner, env, dropped) for inner in value]
    return value


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the target database")
    args = parser.parse_args()
    src, venv = cpa.odoo_src(), cpa.venv_dir()
    sys.path.insert(0, str(src))
    pg = cpa.Postgres(cpa.persistent_cluster_dir("pg-dev"), persistent=True).start()
    source_db = f"cpa_test_dev_{cpa.repo_key()}"
    target_db = f"cpa_exchange_{cpa.repo_key()}"
    if not (pg.database_exists(venv, source_db) and cpa.module_installed(venv, pg, source_db)):
        log(f"No database '{source_db}': run `make test-dev` once first.")
        return 2
    config = cpa.write_config(cpa.cache_dir() / f"odoo-exchange-{cpa.repo_key()}.conf", src, pg, {})
    if pg.database_exists(venv, target_db):
        cpa.drop_database(venv, pg, target_db)
    log(f"Installing {cpa.MODULE} without demo data in '{target_db}' ...")
    started = time.monotonic()
    subprocess.run(
        cpa.odoo_cmd(
            venv,
            src,
            config,
            "-d",
            target_db,
            "-i",
            cpa.MODULE,
            "--without-demo=all",
            "--stop-after-init",
            "--log-level=warn",
        ),
        check=True,
    )
    log(f"installed in {time.monotonic() - started:.0f} s")
    failures = []
    try:
        failures = run_checks(src, config, source_db, target_db)
    finally:
        if "odoo.sql_db" in sys.modules:
            # Release the pooled connections, or PostgreSQL refuses to drop the database.
            sys.modules["odoo.sql_db"].close_all()
        if not args.keep:
            cpa.drop_database(venv, pg, target_db)
    for failure in failures:
        log(f"FAILED: {failure}")
    log("all checks passed" if not failures else f"{len(failures)} check(s) failed")
    return 1 if failures else 0


def run_checks(src, config, source_db, target_db):
    from odoo.exceptions import UserError

    failures = []
    source = odoo_env(src, config, source_db)
    try:
        sales = source.ref(f"{cpa.MODULE}.crm_team_direct_sales_demo")
        installation = source.ref(f"{cpa.MODULE}.crm_team_installation_demo")
        started = time.monotonic()
        exchange = source["crm.automation.exchange"]
        files = {
            "Direct Sales": json.loads(exchange._export_json(sales)),
            "Installation": json.loads(exchange._export_json(installation)),
        }
        log(
            f"source: exported Direct Sales ({len(files['Direct Sales']['triggers'])} "
            f"triggers, {len(files['Direct Sales']['rules'])} rules, "
            f"{len(files['Direct Sales']['activity_templates'])} activity templates) and "
            f"Installation in {time.monotonic() - started:.2f} s"
        )
    finally:
        source.cr.rollback()
        source.cr.close()

    target = odoo_env(src, config, target_db)
    try:
        target_sales = target["crm.team"].create({"name": "Direct Sales"})
        before = counts(target)
        try:
            import_file(target, files["Direct Sales"], target_sales, create_missing=True)
            failures.append(
                "Direct Sales was imported although its Installation pipeline is missing"
            )
        except UserError as exc:
            log(f"target, Direct Sales before Installation: refused as expected:\n{exc.args[0]}")
            if "Installation" not in exc.args[0]:
                failures.append("the error does not name the missing Installation pipeline")
        if counts(target) != before:
            failures.append("the refused import wrote records")
        started = time.monotonic()
        target_installation = target["crm.team"].create({"name": "Installation"})
        # The whole pipeline, not only the stages its own automation uses (Odoo's shared
        # default stages are in the target already).
        shared = {
            (s.name, s.sequence) for s in target["crm.stage"].search([("team_id", "=", False)])
        }
        target["crm.stage"].create(
            [
                {
                    "name": stage["name"],
                    "sequence": stage["sequence"],
                    "is_won": stage["is_won"],
                    "fold": stage["fold"],
                    "team_id": target_installation.id,
                }
                for stage in files["Installation"]["stages"]
                if (stage["name"], stage["sequence"]) not in shared
            ]
        )
        import_file(target, files["Installation"], target_installation, create_missing=True)
        result = import_file(target, files["Direct Sales"], target_sales, create_missing=True)
        log(
            f"target: imported Installation and Direct Sales ({len(result['triggers'])} triggers, "
            f"{len(result['rules'])} rules, stages created: "
            f"{', '.join(result['stages'].mapped('name')) or '-'}, tags created: "
            f"{', '.join(result['tags'].mapped('name')) or '-'}) in "
            f"{time.monotonic() - started:.2f} s"
        )
        exchange = target["crm.automation.exchange"]
        dropped = set()
        files = {
            name: without_unknown_xmlids(data, target, dropped) for name, data in files.items()
        }
        log(f"XML ids of the source unknown in the target (named by name): {sorted(dropped)}")
        for name, team in (
            ("Direct Sales", target_sales),
            ("Installation", target_installation),
        ):
            again = json.loads(exchange._export_json(team))
            missing = {s["name"] for s in files[name]["stages"]} - {
                s["name"] for s in again["stages"]
            }
            if missing:
                failures.append(f"{name}: stages missing in the target: {sorted(missing)}")
            elif again["stages"] != files[name]["stages"]:
                failures.append(f"{name}: the target's stages differ from the source's")
                log(f"{name} / stages:\n{json.dumps(again['stages'], indent=1)}")
            if comparable(again) != comparable(files[name]):
                failures.append(f"{name}: the re-export differs from the source's export")
                for section, value in comparable(again).items():
                    if value != comparable(files[name])[section]:
                        log(f"{name} / {section} differs:\n{json.dumps(value, indent=1)}")
            else:
                log(f"{name}: re-export identical to the source's export")
        target.cr.commit()
    finally:
        target.cr.close()
    return failures


if __name__ == "__main__":
    sys.exit(main())
