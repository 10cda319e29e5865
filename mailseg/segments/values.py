"""The value table segments read (issue 13's subscriber_values): one home for the reference."""

from ..models import SubscriberValue

VALUES = SubscriberValue.__table__
