from . import tracking
from . import website_form
from . import webhook
