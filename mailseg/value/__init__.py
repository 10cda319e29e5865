"""Value segmentation: RFM scores and segments, ABC by revenue, lifetime value (BG/NBD and
Gamma-Gamma), the profitable x loyal quadrants. run.py gives the order of a run, sql.py the rules
as SQL, clv.py the models, segments.py the named segments."""

from .model import latest_model, model_parameters
from .run import JOB, VALUE_STEPS, ValueResult, value_all, value_audience

__all__ = ["JOB", "VALUE_STEPS", "ValueResult", "latest_model", "model_parameters", "value_all", "value_audience"]
