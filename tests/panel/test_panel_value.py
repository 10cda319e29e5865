"""The Value page and the value evidence on the subscriber page."""

import re

from sqlalchemy import func, select

from mailseg.config import Config
from mailseg.models import Audience, Subscriber, SubscriberValue
from mailseg.value import value_audience

from datetime import timedelta

from mailseg.models import utcnow
from tests.factories import make_order, simulated_buyers

AS_OF = utcnow().replace(microsecond=0) - timedelta(hours=1)


def valued(session):
    audience = Audience(name="shop", provider="mailchimp")
    session.add(audience)
    session.flush()
    simulated_buyers(session, audience, 80, end=AS_OF)
    # a refunded order and a prospect
    session.add(Subscriber(audience_id=audience.id, email="window.shopper@example.com"))
    session.flush()
    make_order(session, audience, "buyer0@example.com", AS_OF - timedelta(days=1), 500, status="refunded")
    session.commit()
    first = value_audience(session, audience.id, Config().value, as_of=AS_OF - timedelta(days=20))
    result = value_audience(session, audience.id, Config().value, as_of=AS_OF)
    assert result.model_fitted and first.changes["rfm"] > 0
    return audience


def test_value_page_says_what_to_do_without_orders(viewer, session):
    session.add(Audience(name="no orders", provider="mailchimp"))
    session.commit()
    page = viewer.get("/value").data.decode()
    assert 'id="value-empty"' in page and "POST /api/v1/orders" in page


def test_value_page_shows_the_grid_segments_pareto_clv_quadrants_and_moves(viewer, session):
    audience = valued(session)
    page = viewer.get("/value").data.decode()
    v = SubscriberValue
    champions = session.scalar(select(func.count()).where(v.r_score == 5, v.f_score == 5))
    cell = re.search(r"<th scope=\"row\">R5</th>(.*?)</tr>", page, re.S).group(1)
    assert f'data-count="{champions}"' in cell.split("<td")[-1]
    for name, count in session.execute(select(v.rfm_segment, func.count()).where(v.rfm_segment != "prospect")
                                       .group_by(v.rfm_segment)).all():
        row = re.search(rf'<tr data-segment="{name}">(.*?)</tr>', page, re.S).group(1)
        assert f">{count}<" in row
    assert "Prospects (no order in the lookback)" in page
    assert 'id="pareto-data"' in page and 'id="clv-data"' in page and 'id="top-customers"' in page
    best = session.scalar(select(Subscriber.email).join(v, v.subscriber_id == Subscriber.id)
                          .where(Subscriber.audience_id == audience.id, v.clv.is_not(None)).order_by(v.clv.desc()).limit(1))
    assert best in page
    for quadrant, count in session.execute(select(v.quadrant, func.count()).where(v.quadrant.is_not(None))
                                           .group_by(v.quadrant)).all():
        assert re.search(rf'data-quadrant="{quadrant}"><strong>{count}</strong>', page)
    assert 'id="segment-moves"' in page  # the second run moved customers between segments
    assert "BG/NBD r=" in page and "style=" not in page and "<script>" not in page


def test_subscriber_page_shows_the_value_evidence(viewer, session):
    valued(session)
    sub_id = session.scalar(select(Subscriber.id).where(Subscriber.email == "buyer0@example.com"))
    page = viewer.get(f"/subscribers/{sub_id}").data.decode()
    assert 'id="value-evidence"' in page and "Lifetime-value inputs" in page
    assert "no (refunded)" in page
    prospect = session.scalar(select(Subscriber.id).where(Subscriber.email == "window.shopper@example.com"))
    assert "prospect" in viewer.get(f"/subscribers/{prospect}").data.decode()
