# The two commands of README.md, plus helpers. Everything is set up on first use by
# tools/cpa.py (Odoo source, Python environment, private PostgreSQL, Chromium).
PYTHON ?= python3
CPA = $(PYTHON) tools/cpa.py

.PHONY: run test test-dev test-odoo test-upgrade lint reliability pot po-missing screenshots help

help:
	@echo "make run       Odoo 18 with the addon and demo data at http://localhost:8069 (admin/admin)"
	@echo "make test      the whole test suite on a throwaway database (ends with 'N passed, M failed')"
	@echo "make test-dev TAGS=/crm_pipeline_automation:TestClass   quick re-run on a kept database"
	@echo "make test-odoo Odoo's own CRM/website suites with and without the addon: regressions fail"
	@echo "make test-upgrade  install, -u, uninstall and reinstall the addon on a throwaway database"
	@echo "make test-upgrade ARGS='--from REV'  the same, upgrading from the addon as of git revision REV"
	@echo "make lint      pre-commit (ruff, pylint-odoo) on all files"
	@echo "make screenshots  README images taken by the tours (readme/images/)"
	@echo "make reliability ARGS='--part crash'   multi-worker load and crash harness (bench/reliability.py)"
	@echo "make pot       regenerate i18n/*.pot and merge it into the .po files"
	@echo "make po-missing   list the entries left to translate in i18n/*.po"

run:
	@$(CPA) run $(if $(UPDATE),--update)

test:
	@$(CPA) test $(if $(TAGS),--tags "$(TAGS)")

test-dev:
	@$(CPA) test --dev $(if $(TAGS),--tags "$(TAGS)")

test-odoo:
	@$(PYTHON) tools/odoo_suites.py $(ARGS)

test-upgrade:
	@$(PYTHON) tools/upgrade_check.py $(ARGS)

lint:
	@$(CPA) lint

reliability:
	@$(CPA) script bench/reliability.py $(ARGS)

pot:
	@$(CPA) pot

po-missing:
	@$(CPA) po-missing

# README images: the tours below save what Chromium shows at their `cpa-screenshot:` steps;
# the 5-minute tour on the demo data runs last, so that its images are the README's.
SCREENSHOT_TOURS = /crm_pipeline_automation:TestActivityDeadlineTour,/crm_pipeline_automation:TestRecipeTour,/crm_pipeline_automation:TestAutomationBoardTour,/crm_pipeline_automation:TestAutomationBoardSpanishTour,/crm_pipeline_automation:TestSalespersonViewTour,/crm_pipeline_automation:TestUndoTour,/crm_pipeline_automation:TestWhatIfTour,/crm_pipeline_automation:TestStageGateTour,/crm_pipeline_automation:TestRottingTour
SCREENSHOT_DEMO_TOUR = /crm_pipeline_automation:TestDemoTour
screenshots:
	@CPA_SCREENSHOTS=$(CURDIR)/readme/images $(CPA) test --dev --tags "$(SCREENSHOT_TOURS)"
	@CPA_SCREENSHOTS=$(CURDIR)/readme/images $(CPA) test --dev --tags "$(SCREENSHOT_DEMO_TOUR)"
