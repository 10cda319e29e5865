"""The lifetime-value models reproduce Fader & Hardie's published CDNOW estimates, from the raw
transactions (tests/data/CDNOW_sample.txt, see its LICENSE file) through the file import and a value run.

Published: BG/NBD r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4 (Fader, Hardie & Lee
2005, "Counting your customers the easy way", 2,357 customers, calibration to 1997-09-30);
Gamma-Gamma p = 6.25, q = 3.74, gamma = 15.44 (Fader & Hardie, "The Gamma-Gamma model of monetary
value", 946 repeat customers); and the paper's worked example: a customer with x = 2,
t_x = 30.43, T = 38.86 is expected to make 1.226 purchases in the next 39 weeks."""

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from mailseg.config import Config
from mailseg.ingest.importing import import_events_file, import_subscribers_file
from mailseg.models import Subscriber, SubscriberValue
from mailseg.value import clv, value_audience

from .factories import make_audience, utc

DATA = Path(__file__).parent / "data" / "CDNOW_sample.txt"
CALIBRATION_END = utc(1997, 9, 30, 23, 59, 59)


def write_cdnow_files(tmp_path: Path) -> tuple[Path, Path]:
    """The raw transactions as mailseg import files: one subscriber per customer, one order per line."""
    customers, orders = set(), ["email,type,occurred_at,amount,order_id"]
    for number, line in enumerate(DATA.read_text().splitlines(), start=1):
        customer, _, day, _, amount = line.split()
        customers.add(customer)
        orders.append(f"cdnow-{customer}@example.com,purchase,{day[:4]}-{day[4:6]}-{day[6:]},{amount},line-{number}")
    subscribers = tmp_path / "customers.csv"
    subscribers.write_text("email\n" + "".join(f"cdnow-{c}@example.com\n" for c in sorted(customers)))
    events = tmp_path / "orders.csv"
    events.write_text("\n".join(orders) + "\n")
    return subscribers, events


@pytest.mark.slow
def test_cdnow_estimates_are_reproduced_from_the_raw_transactions(session, tmp_path):
    audience = make_audience(session, "cdnow")
    session.commit()
    subscribers, events = write_cdnow_files(tmp_path)
    assert import_subscribers_file(session, audience.id, subscribers).inserted == 2357
    report = import_events_file(session, audience.id, events)
    assert report.stored and report.events.inserted == 6919

    result = value_audience(session, audience.id, Config().value, as_of=CALIBRATION_END)

    assert result.model_fitted, result.model_reason
    bgnbd, gg = result.model["bgnbd"], result.model["gamma_gamma"]
    assert result.model["customers"] == 2357 and result.model["repeat_customers"] == 946
    assert bgnbd["r"] == pytest.approx(0.243, abs=5e-4)
    assert bgnbd["alpha"] == pytest.approx(4.414, abs=5e-4)
    assert bgnbd["a"] == pytest.approx(0.793, abs=5e-4)
    assert bgnbd["b"] == pytest.approx(2.426, abs=5e-4)
    assert bgnbd["log_likelihood"] == pytest.approx(-9582.4, abs=0.05)
    assert gg["p"] == pytest.approx(6.25, abs=5e-3)
    assert gg["q"] == pytest.approx(3.74, abs=5e-3)
    assert gg["gamma"] == pytest.approx(15.44, abs=5e-3)

    # Customer 00004 bought on 1997-01-01, 01-18 and 08-02: the paper's worked example (x = 2,
    # t_x = 30.43, T = 38.86) is this customer.
    stored = _value_of(session, "cdnow-00004@example.com")
    assert stored.repeat_days == 2
    assert stored.t_x_weeks == pytest.approx(30.43, abs=5e-3) and stored.t_weeks == pytest.approx(38.86, abs=5e-3)
    fitted = clv.BgNbd(bgnbd["r"], bgnbd["alpha"], bgnbd["a"], bgnbd["b"], bgnbd["log_likelihood"])
    assert clv.expected_purchases(fitted, 39, np.array([2.0]), np.array([stored.t_x_weeks]),
                                  np.array([stored.t_weeks]))[0] == pytest.approx(1.226, abs=5e-4)
    assert 0 < stored.p_alive < 1 and stored.clv > 0


def _value_of(session, email):
    return session.scalar(select(SubscriberValue).join(Subscriber, Subscriber.id == SubscriberValue.subscriber_id)
                          .where(Subscriber.email == email))
