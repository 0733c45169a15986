"""Property tests of the reopening auction.

1. `test_clearing_rule` (hypothesis, many examples, eth_calls only): for random books and pools,
   the contract's clearing equals the rule computed from its definitions in Python
   (tests/unit/auction/model.py: D, S, the pool's quote, B, A, V, I at every candidate), and
   - the chosen price executes at least as much volume as any other price probed (every limit,
     limit +- 1 wei, the chosen price +- 1 wei, random prices), and among those with the same
     volume none has a smaller imbalance;
   - no fill breaks its limit, fills never exceed amounts, buyers never pay more than escrowed;
   - the pool's trade is worth at least zero to it at the price and leaves it at the price up to
     rounding (spot within a basis point, or trade within one raw unit per order of its quote).
   Two deployments: an 18/6-decimal pair, and a 0-decimal collateral whose pool quote rounds to
   whole units (wide dead bands: ties between candidates, decided by the reference).
2. `test_st_auction` (stateful): a GuardedPool that is its own breaker market, its auction, DLPs
   and the public posting, cancelling and claiming through trips, resumes, cool-downs, auctions
   settled or left to elapse, swaps in NORMAL. Invariants: the auction holds exactly what its
   live orders can claim (tokens in = tokens out + refunds); no fill breaks its limit; the pool
   holds exactly its reserves, and after a settlement it is NORMAL at the clearing price with
   its band centred there and k not lower; every order of a round that ended unsettled can be
   refunded. At the end every
   order is driven to a claim and the auction is left with exactly zero of both tokens.

Example and step counts come from tests/property/profiles.py (HYPOTHESIS_PROFILE=quick|ci|deep).
"""

from __future__ import annotations

from collections import Counter

import pytest
from ape.exceptions import ContractLogicError
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from deployment.auction import deploy_auction
from deployment.pool import NO_DEADLINE, deploy_pool
from tests.constants import AUCTION, COOLDOWN, HALTED, NORMAL
from tests.property.profiles import counts
from tests.unit.auction.model import (
    MAX_PRICE,
    WAD,
    Order,
    clear,
    crossing,
    debt,
    escrow,
    evaluate,
    fill,
    payout,
    settle_flows,
)

EXAMPLES, STEPS = counts("auction")
STATEFUL_EXAMPLES = max(1, EXAMPLES // 20)
BPS = 10_000
PRICE = 2_000
MAX = 2**256 - 1


# ---------------------------------------------------------------- 1. the clearing rule


@pytest.fixture(scope="module")
def own_breaker(create_breaker):
    """A breaker of this module's own: its markets never show up in other suites."""
    return create_breaker()


@pytest.fixture(scope="module")
def clearing_views(project, deployer, own_breaker, create_feed, create_oracle, governance):
    """Two auctions used only for their `compute_clearing` view: (scales, contract)."""
    views = {}
    for name, col_dec, debt_dec, price in (("18/6", 18, 6, PRICE), ("0/18", 0, 18, PRICE)):
        oracle = create_oracle([create_feed(answer=price)])
        deployed = deploy_pool(
            project,
            deployer,
            own_breaker,
            None,
            oracle,
            governance=governance,
            collateral_decimals=col_dec,
            debt_decimals=debt_dec,
            liquidity_collateral=1_000,
            price=price,
        )
        auction = deploy_auction(project, deployer, deployed.pool, own_breaker, governance=governance).auction
        views[name] = (10 ** (18 - col_dec), 10 ** (18 - debt_dec), auction)
    return views


@st.composite
def markets(draw):
    """(deployment name, pool reserves, reference, orders) around a pool price."""
    name = draw(st.sampled_from(["18/6", "18/6", "0/18"]))
    cs, ds = (1, 10**12) if name == "18/6" else (10**18, 1)
    units = draw(st.integers(min_value=1, max_value=20_000))  # whole collateral units in the pool
    pool_price = draw(st.integers(min_value=500, max_value=5_000))
    x = units * 10**18 // cs
    y = units * pool_price * 10**18 // ds
    spot = y * ds * WAD // (x * cs)
    ref = draw(st.sampled_from([0, spot, spot + draw(st.integers(-spot // 10, spot // 10))]))
    levels = draw(st.lists(st.integers(min_value=-300, max_value=300), min_size=1, max_size=6))
    orders = []
    for _ in range(draw(st.integers(min_value=0, max_value=14))):
        is_buy = draw(st.booleans())
        bps = draw(st.sampled_from(levels)) if draw(st.booleans()) else draw(st.integers(-2_000, 2_000))
        limit = max(1, spot * (BPS + bps) // BPS + draw(st.sampled_from([0, 0, 1, -1, 7])))
        amount = max(1, units * draw(st.integers(min_value=1, max_value=400)) * 10**18 // 1_000 // cs)
        orders.append(Order(is_buy, limit, amount))
    return name, cs, ds, x, y, ref, orders


@given(market=markets(), probes=st.lists(st.integers(min_value=-3_000, max_value=3_000), max_size=6))
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_clearing_rule(clearing_views, market, probes):
    name, cs, ds, x, y, ref, orders = market
    _, _, auction = clearing_views[name]
    got = auction.compute_clearing([o.key for o in orders], x, y, ref)
    expected = clear(orders, x, y, ref, cs, ds)
    assert tuple(got) == tuple(expected.__dict__.values()), (got, expected)

    # No price executes more; none with as much volume leaves less imbalance.
    chosen = evaluate(orders, x, y, got.price, cs, ds)
    c = crossing(orders, x, y, cs, ds)
    prices = {got.price - 1, got.price + 1, c, c + 1, *(o.limit + d for o in orders for d in (-1, 0, 1))}
    prices |= {max(1, got.price * (BPS + p) // BPS) for p in probes}
    for p in (p for p in prices if 1 <= p <= MAX_PRICE):
        other = evaluate(orders, x, y, p, cs, ds)
        assert other.volume <= chosen.volume, (p, other, chosen)
        if other.volume == chosen.volume:
            assert other.imbalance >= chosen.imbalance, (p, other, chosen)
    event(f"{name}: {'crossing orders' if chosen.volume > abs(chosen.q) else 'pool only'}")

    # Fills within limits and amounts; buyers within escrow; the pool's trade fair to it.
    for o in orders:
        f = fill(o, expected)
        assert 0 <= f <= o.amount
        if f:
            assert (o.limit >= got.price) if o.is_buy else (o.limit <= got.price)
        if o.is_buy:
            assert debt(f, got.price, cs, ds, True) <= escrow(o, cs, ds)
    flows = settle_flows(orders, expected, cs, ds)
    assert flows["pool_collateral_in"] * cs * got.price + flows["pool_debt_in"] * ds * WAD >= 0
    new_x, new_y = x + flows["pool_collateral_in"], y + flows["pool_debt_in"]
    assert new_x > 0 and new_y > 0
    # The pool ends at the price up to rounding (GuardedPool.clear_auction's acceptance):
    # its spot within a basis point, or its trade within one raw unit per order of its quote.
    q = evaluate([], x, y, got.price, cs, ds).q
    spot = new_y * ds * WAD // (new_x * cs)
    near_spot = abs(spot - got.price) * BPS <= got.price
    near_quote = abs(flows["pool_collateral_in"] - q) <= len(orders) + 1
    assert near_spot or near_quote, (spot, q, flows)
    event(f"{name}: pool ends {'within 1 bp' if near_spot else 'within rounding of its quote'}")


# ---------------------------------------------------------------- 2. the stateful machine


@pytest.fixture
def world(project, accounts, chain, own_breaker, create_feed, create_oracle, deployer, governance, guardian):
    breaker = own_breaker
    feed = create_feed(answer=PRICE)
    oracle = create_oracle([feed], heartbeat=2 * 86_400)
    deployed = deploy_pool(
        project,
        deployer,
        breaker,
        None,
        oracle,
        governance=governance,
        liquidity_collateral=1_000,
        price=PRICE,
    )
    dlp = accounts[5]
    auction = deploy_auction(
        project, deployer, deployed.pool, breaker, governance=governance, dlps=[dlp]
    ).auction
    actors = {"dlp": dlp, "bidder": accounts[6], "seller": accounts[7], "trader": accounts[8]}
    for actor in actors.values():
        deployed.collateral.mint(actor, 100_000 * 10**18, sender=deployer)
        deployed.debt.mint(actor, 500_000_000 * 10**6, sender=deployer)
        for spender in (auction, deployed.pool):
            deployed.collateral.approve(spender, MAX, sender=actor)
            deployed.debt.approve(spender, MAX, sender=actor)
    return {
        "chain": chain,
        "breaker": breaker,
        "market": deployed.market_id,
        "pool": deployed.pool,
        "collateral": deployed.collateral,
        "debt": deployed.debt,
        "auction": auction,
        "actors": actors,
        "governance": governance,
        "guardian": guardian,
        "feed": feed,
        "deployer": deployer,
    }


@pytest.mark.funds_exit
def test_st_auction(world):
    w = world
    chain, breaker, market, pool, auction = w["chain"], w["breaker"], w["market"], w["pool"], w["auction"]
    collateral, debt_token, actors = w["collateral"], w["debt"], w["actors"]
    cs, ds = 1, 10**12
    cooldown_s = breaker.params(market, breaker.P_COOLDOWN_S())
    tally: Counter[str] = Counter()  # what the runs did, printed at the end (pytest -s)

    class AuctionMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.snapshot = chain.snapshot()
            self.orders: dict[int, tuple[str, Order]] = {}  # live orders: id -> (actor, order)
            self.rounds: dict[int, int] = {}  # order id -> round
            self.settled: dict[int, object] = {}  # round -> settlement (immutable once set)

        def teardown(self):
            try:
                self._drain()
            finally:
                chain.restore(self.snapshot)

        # ------------------------------------------------------------ helpers

        def _state(self) -> int:
            return int(breaker.state(market))

        def _settlement(self, order_id: int):
            round_ = self.rounds[order_id]
            if round_ not in self.settled:
                s = auction.settlement(round_)
                if not s.price:
                    return s
                self.settled[round_] = s
            return self.settled[round_]

        def _owed(self) -> tuple[int, int]:
            """What the live orders can claim now: escrow while unsettled, payout once settled."""
            owed_c = owed_d = 0
            for order_id, (_, o) in self.orders.items():
                s = self._settlement(order_id)
                if s.price:
                    _, c_out, d_out = payout(o, s, cs, ds)
                else:
                    c_out, d_out = (0, escrow(o, cs, ds)) if o.is_buy else (o.amount, 0)
                owed_c += c_out
                owed_d += d_out
            return owed_c, owed_d

        def _drain(self):
            """Ends every round (settle or let it elapse) and claims or cancels every order."""
            for _ in range(4):
                state = self._state()
                if state == HALTED:
                    breaker.force_resume(market, sender=w["governance"])
                elif state == COOLDOWN:
                    chain.pending_timestamp += cooldown_s
                    chain.mine()
                elif state == AUCTION:
                    auction.settle(auction.crossing(), sender=actors["trader"])
            for order_id, (who, _) in list(self.orders.items()):
                auction.claim(order_id, sender=actors[who])
                del self.orders[order_id]
            assert collateral.balanceOf(auction) == 0
            assert debt_token.balanceOf(auction) == 0

        # ------------------------------------------------------------ rules

        @initialize()
        def restart_with_a_dlp_order(self):
            """Every run starts mid-restart: halted, a DLP order in the book, then cool-down.
            (Chain time keeps running across runs even though state is restored: the feed is
            refreshed so every run sees a valid reference.)"""
            w["feed"].set_answer(PRICE * 10**8, sender=w["deployer"])
            breaker.guardian_trip(market, sender=w["guardian"])
            self.post([("dlp", False, -100, 500)])
            breaker.force_resume(market, sender=w["governance"])

        @rule(
            move=st.sampled_from(["next", "next", "next", "next", "retrip", "wait"]),
            hint=st.sampled_from(["crossing", "crossing", "zero", "far"]),
        )
        def lifecycle(self, move, hint):
            """Mostly the next stage (trip, resume, end of cool-down, settlement); sometimes a
            guardian re-trip mid-restart, or waiting (an auction left to elapse is void)."""
            state = self._state()
            if state == NORMAL or (move == "retrip" and state in (COOLDOWN, AUCTION)):
                breaker.guardian_trip(market, sender=w["guardian"])
                tally["trip" if state == NORMAL else "re-trip"] += 1
            elif state == HALTED:
                breaker.force_resume(market, sender=w["governance"])
            elif move == "wait":
                chain.pending_timestamp += 181
                chain.mine()
                tally[f"wait in {'cooldown' if state == COOLDOWN else 'auction'}"] += 1
            elif state == COOLDOWN:
                chain.pending_timestamp += cooldown_s
                chain.mine()
            else:
                self._settle(hint)

        def _settle(self, hint):
            x, y = pool.reserves()
            k = x * y
            c = auction.crossing()
            arg = {"crossing": c, "zero": 0, "far": c * 3}[hint]
            receipt = auction.settle(arg, sender=actors["trader"])
            [settled] = receipt.decode_logs(auction.AuctionSettled)
            assert self._state() == NORMAL and pool.breaker_state() == NORMAL
            assert abs(pool.spot_price() - settled.price) * 10**9 <= settled.price
            assert pool.band().centre == settled.price
            new_x, new_y = pool.reserves()
            assert new_x * new_y * (10**9 + 1) >= k * 10**9  # k not lower (beyond rounding)
            tally[
                f"settle (hint {hint}, "
                f"{'orders crossed' if settled.bought + settled.sold else 'no order filled'})"
            ] += 1

        @rule(
            posts=st.lists(
                st.tuples(
                    st.sampled_from(["dlp", "bidder", "seller"]),
                    st.booleans(),
                    st.integers(min_value=-800, max_value=800),
                    st.integers(min_value=1, max_value=3_000),
                ),
                min_size=1,
                max_size=4,
            )
        )
        def post(self, posts):
            state = self._state()
            for who, is_buy, bps, size in posts:
                limit = PRICE * WAD * (BPS + bps) // BPS
                amount = size * 10**16
                if not (state == COOLDOWN or (state == HALTED and who == "dlp")):
                    with pytest.raises(ContractLogicError):  # refused: checked without mining it
                        auction.post_order.call(is_buy, limit, amount, sender=actors[who])
                    tally["post refused"] += 1
                    continue
                receipt = auction.post_order(is_buy, limit, amount, sender=actors[who])
                [posted] = receipt.decode_logs(auction.OrderPosted)
                self.orders[posted.order_id] = (who, Order(is_buy, limit, amount))
                self.rounds[posted.order_id] = posted.round
                tally["post (dlp, halted)" if state == HALTED else "post (cooldown)"] += 1

        @precondition(lambda self: self.orders)
        @rule(pick=st.integers(min_value=0, max_value=10**6))
        def cancel(self, pick):
            order_id = sorted(self.orders)[pick % len(self.orders)]
            who, _ = self.orders[order_id]
            phase = auction.phase(order_id)
            if phase in (2, 3):  # locked or settled
                with pytest.raises(ContractLogicError):
                    auction.cancel_order.call(order_id, sender=actors[who])
                return
            auction.cancel_order(order_id, sender=actors[who])
            tally["cancel (open)" if phase == 1 else "cancel (void round)"] += 1
            del self.orders[order_id]

        @precondition(lambda self: self.orders)
        @rule(pick=st.integers(min_value=0, max_value=10**6))
        def claim(self, pick):
            order_id = sorted(self.orders)[pick % len(self.orders)]
            who, o = self.orders[order_id]
            phase = auction.phase(order_id)
            before = (collateral.balanceOf(actors[who]), debt_token.balanceOf(actors[who]))
            if phase in (1, 2):  # open or locked
                with pytest.raises(ContractLogicError):
                    auction.claim.call(order_id, sender=actors[who])
                return
            receipt = auction.claim(order_id, sender=actors[who])
            [claimed] = receipt.decode_logs(auction.OrderClaimed)
            s = self._settlement(order_id)
            if phase == 3:
                f, c_out, d_out = payout(o, s, cs, ds)
                assert (claimed.filled, claimed.collateral_out, claimed.debt_out) == (f, c_out, d_out)
                if f:  # no fill breaks its limit
                    assert s.price <= o.limit if o.is_buy else s.price >= o.limit
            else:
                assert claimed.filled == 0
            tally["claim (filled)" if claimed.filled else "claim (refund)"] += 1
            after = (collateral.balanceOf(actors[who]), debt_token.balanceOf(actors[who]))
            assert after == (before[0] + claimed.collateral_out, before[1] + claimed.debt_out)
            del self.orders[order_id]

        @precondition(lambda self: self._state() == NORMAL)
        @rule(sell=st.booleans(), size=st.integers(min_value=1, max_value=20))
        def swap(self, sell, size):
            breaker.sync(market, sender=actors["trader"])  # store what time has made, as a keeper does
            amount = size * 10**18 if sell else size * PRICE * 10**6
            try:
                pool.swap.call(sell, amount, 0, NO_DEADLINE, sender=actors["trader"])
            except ContractLogicError as err:
                assert "band" in err.message, err.message
                return
            pool.swap(sell, amount, 0, NO_DEADLINE, sender=actors["trader"])
            tally["swap"] += 1

        # ------------------------------------------------------------ invariants

        @invariant()
        def auction_holds_exactly_what_orders_can_claim(self):
            owed_c, owed_d = self._owed()
            assert collateral.balanceOf(auction) == owed_c
            assert debt_token.balanceOf(auction) == owed_d

        @invariant()
        def pool_holds_its_reserves(self):
            x, y = pool.reserves()
            assert (collateral.balanceOf(pool), debt_token.balanceOf(pool)) == (x, y)

        @invariant()
        def unsettled_orders_of_ended_rounds_are_refundable(self):
            current = auction.current_round()
            for order_id, (_who, o) in self.orders.items():
                if self.rounds[order_id] != current and self.rounds[order_id] not in self.settled:
                    _, c_out, d_out = auction.claimable(order_id)
                    assert (c_out, d_out) == ((0, escrow(o, cs, ds)) if o.is_buy else (o.amount, 0))

    try:
        _run(AuctionMachine)
    finally:
        print(f"\nauction machine: {dict(sorted(tally.items()))}")


def _run(machine):
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
        ),
    )
