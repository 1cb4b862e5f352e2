from . import test_stage_trigger
from . import test_mail_tracking
from . import test_tracking_routes
from . import test_calls
from . import test_livechat_trigger
from . import test_verdict
from . import test_route_fuzz
