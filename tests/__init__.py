from . import test_stage_trigger
