from . import test_install
from . import test_tooling
from . import test_tours
from . import test_automation_rule
from . import test_automation_actions
from . import test_business_hours
from . import test_job_dispatch
from . import test_demo_recipe
