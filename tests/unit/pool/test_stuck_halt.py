"""A halt that cannot end by itself: a consumer that starts reverting blocks every stored transition of
its market (by design, no cache may say NORMAL while the market is halted), even the lapse at max halt.
LPs still exit in full, and governance removing the consumer lets the halt lapse again."""

import ape
import pytest

from tests.constants import COOLDOWN, HALTED
from tests.unit.pool.conftest import DEADLINE


@pytest.mark.threat
@pytest.mark.funds_exit
def test_reverting_consumer__blocks_the_lapse_but_never_the_lp_exit(
    project, pool, breaker, market_id, guardian, governance, deployer, lp, trader, anyone
):
    broken = project.MockConsumer.deploy(sender=deployer)
    breaker.add_consumer(market_id, broken, sender=governance)
    breaker.guardian_trip(market_id, sender=guardian)
    broken.set_reverting(True, sender=deployer)  # a consumer with a bug, or one that was upgraded
    ape.chain.pending_timestamp = breaker.status(market_id).lapse_at
    ape.chain.mine()

    assert breaker.state(market_id) == COOLDOWN  # time says the halt lapsed ...
    with ape.reverts("MockConsumer: refusing notification"):
        breaker.sync(market_id, sender=anyone)  # ... but the transition cannot be stored
    assert pool.breaker_state() == HALTED
    with ape.reverts("GuardedPool: market halted"):
        pool.swap(True, 10**15, 0, DEADLINE, sender=trader)

    shares = pool.balanceOf(lp)
    x, y = pool.reserves()
    supply = pool.totalSupply()
    out = pool.remove_liquidity(shares, 0, 0, sender=lp).return_value
    assert out == (shares * x // supply, shares * y // supply) and pool.balanceOf(lp) == 0

    breaker.remove_consumer(market_id, broken, sender=governance)
    breaker.sync(market_id, sender=anyone)
    assert breaker.status(market_id).state == COOLDOWN and pool.breaker_state() == COOLDOWN
