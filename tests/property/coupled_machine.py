"""The coupled state machine (tests/property/test_st_coupled.py): raw JSON-RPC to the node, and the
rules and invariants of one breaker market, its guarded pool and a lending market, each step's outcome
predicted by tests/property/coupled_model.py."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, NamedTuple

import requests
from eth_abi import decode, encode
from eth_utils import keccak
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)

from deployment.pool import NO_DEADLINE
from keeper import params as P
from tests.constants import AUCTION, COOLDOWN, HALTED, NORMAL, ZERO_ADDRESS
from tests.property.coupled_model import (
    BELOW_QUORUM,
    BPS,
    CLOSED,
    COL,
    DAY,
    DEBT_SCALE,
    FEED_UNIT,
    MASK_128,
    MAX,
    MISSING_ROLE,
    NOT_OWNER,
    PAUSED,
    PRICE_ORACLE,
    PRICE_VENUE,
    STALE,
    STATE_NAMES,
    USD,
    VENUE_CLOSED,
    WAD,
    K,
    Status,
    advance,
    amount_out,
    breaker_consistency,
    ceil_div,
    halt_window,
    in_bounds_or_not,
)
from tests.unit.lending.conftest import lending_params

# ---------------------------------------------------------------- raw JSON-RPC


@dataclass(frozen=True)
class Reverted:
    """A call that reverted, with its reason string ('' when it carried none)."""

    reason: str


class Tx(NamedTuple):
    ok: bool
    reason: str  # the revert reason when not ok
    logs: list[dict]
    timestamp: int


def _revert_reason(error: dict) -> str:
    data = error.get("data")
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x08c379a0"):
        return decode(["string"], bytes.fromhex(data[10:]))[0]
    if isinstance(data, str) and data.startswith("0x4e487b71"):
        return f"Panic({int(data[10:], 16):#x})"
    return ""


class Fn(NamedTuple):
    selector: bytes
    inputs: list[str]
    outputs: list[str]


class Bound:
    """A deployed contract's functions, encoded with eth_abi from its ape ABI."""

    def __init__(self, contract: Any):
        self.address = str(contract.address)
        self.fns: dict[tuple[str, int], Fn] = {}
        for abi in contract.contract_type.abi:
            if abi.type == "function":
                inputs = [i.canonical_type for i in abi.inputs]
                self.fns[(abi.name, len(inputs))] = Fn(
                    keccak(text=abi.selector)[:4], inputs, [o.canonical_type for o in abi.outputs]
                )

    def fn(self, name: str, args: tuple) -> Fn:
        return self.fns[(name, len(args))]

    def data(self, name: str, args: tuple) -> str:
        f = self.fn(name, args)
        return "0x" + (f.selector + encode(f.inputs, list(args))).hex()

    def result(self, name: str, args: tuple, raw: str) -> Any:
        values = decode(self.fn(name, args).outputs, bytes.fromhex(raw[2:]))
        return values[0] if len(values) == 1 else values


class Rpc:
    """Raw JSON-RPC to the test node. Reads and simulations run at the pending block, which is
    exactly the block the next transaction lands in (one second after the head)."""

    def __init__(self, uri: str):
        self.uri = uri
        self.http = requests.Session()

    def request(self, method: str, *params: Any) -> Any:
        reply = self.http.post(
            self.uri, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        ).json()
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def read(self, calls: dict[str, tuple]) -> dict[str, Any]:
        """{key: (contract, function, args[, sender])} -> {key: value or Reverted}, in one request."""
        keys = list(calls)
        payload = []
        for i, key in enumerate(keys):
            c, name, args, *sender = calls[key]
            tx = {"to": c.address, "data": c.data(name, args)}
            if sender:
                tx["from"] = sender[0]
            payload.append({"jsonrpc": "2.0", "id": i, "method": "eth_call", "params": [tx, "pending"]})
        replies = sorted(self.http.post(self.uri, json=payload).json(), key=lambda r: r["id"])
        out = {}
        for key, reply in zip(keys, replies, strict=True):
            c, name, args, *_ = calls[key]
            if "error" in reply:
                out[key] = Reverted(_revert_reason(reply["error"]))
            else:
                out[key] = c.result(name, args, reply["result"])
        return out

    def call(self, c: Bound, name: str, *args: Any, sender: str = ZERO_ADDRESS) -> Any:
        return self.read({"x": (c, name, args, sender)})["x"]

    def send(self, c: Bound, name: str, *args: Any, sender: str) -> Tx:
        """Simulates first and sends only what passes, so a refusal costs no block."""
        simulated = self.call(c, name, *args, sender=sender)
        if isinstance(simulated, Reverted):
            return Tx(False, simulated.reason, [], 0)
        tx_hash = self.request(
            "eth_sendTransaction",
            {"from": sender, "to": c.address, "data": c.data(name, args), "gas": hex(10_000_000)},
        )
        receipt = None
        while receipt is None:  # automine answers with the hash, sometimes before the block is stored
            receipt = self.request("eth_getTransactionReceipt", tx_hash)
        assert receipt["status"] == "0x1", f"{name} passed its simulation but reverted on chain"
        stamp = receipt["blockTimestamp"]  # anvil sends it as a number
        return Tx(True, "", receipt["logs"], int(stamp, 16) if isinstance(stamp, str) else stamp)

    def pending(self) -> tuple[int, int]:
        """(number, timestamp) of the pending block: what the next transaction sees."""
        # Init code that returns NUMBER (0x43) or TIMESTAMP (0x42), run with eth_call.
        payload = [
            {
                "jsonrpc": "2.0",
                "id": i,
                "method": "eth_call",
                "params": [{"data": f"0x{op}60005260206000f3"}, "pending"],
            }
            for i, op in enumerate(("43", "42"))
        ]
        replies = sorted(self.http.post(self.uri, json=payload).json(), key=lambda r: r["id"])
        number, timestamp = (int(r["result"], 16) for r in replies)
        return number, timestamp

    def jump(self, seconds: int) -> None:
        head = self.pending()[1] - 1
        self.request("evm_setNextBlockTimestamp", head + seconds)
        self.request("evm_mine")


def topic(signature: str) -> str:
    return "0x" + keccak(text=signature).hex()


BAD_DEBT = topic("BadDebtRealized(address,address,uint256)")


# ---------------------------------------------------------------- the machine


def build_machine(w, rpc: Rpc, run: Counter, tally: Counter):
    breaker, pool, lending, oracle = (Bound(c) for c in (w.breaker, w.pool, w.lending, w.oracle))
    col, debt = Bound(w.col), Bound(w.debt)
    feeds = [Bound(f) for f in w.feeds]
    mid = w.market_id
    addr = {
        name: str(getattr(w, name).address)
        for name in ("deployer", "governance", "guardian", "keeper", "trader", "lender", "liquidator")
    }
    lps = [str(a.address) for a in w.lps]
    borrowers = [str(a.address) for a in w.borrowers]
    everyone = [str(a.address) for a in w.everyone]
    holders = sorted({w.pool.address, w.lending.address, *everyone})  # everyone who can hold tokens
    supply = {"col": w.col.totalSupply(), "debt": w.debt.totalSupply()}  # nobody mints after the setup
    breaker_bounds = [tuple(w.breaker.param_bounds(k)) for k in range(P.PARAMS[-1].key + 1)]
    lending_bounds = [tuple(w.lending.param_bounds(k)) for k in range(10)]
    lending_defaults = lending_params(halt_rate_multiplier_bps=20_000, max_grace_s=1_800)
    roles = {"KEEPER": w.breaker.KEEPER_ROLE(), "GUARDIAN": w.breaker.GUARDIAN_ROLE()}

    # Everything the rules and invariants look at, read in one request at the pending block.
    reads = {
        "status": (breaker, "status", (mid,)),
        "state": (breaker, "state", (mid,)),
        "indicators": (breaker, "indicators", (mid,)),
        "frozen": (breaker, "frozen_price", (mid,)),
        "reserves": (pool, "reserves", ()),
        "pool_state": (pool, "breaker_state", ()),
        "band": (pool, "band", ()),
        "fee": (pool, "fee_bps", ()),
        "lp_supply": (pool, "totalSupply", ()),
        "latest": (oracle, "latest", ()),
        "guard": (lending, "guard", ()),
        "lend_frozen": (lending, "frozen_price", ()),
        "cash": (lending, "cash", ()),
        "total_assets": (lending, "total_assets", ()),
        "total_shares": (lending, "total_shares", ()),
        "lender_assets": (lending, "assets_of", (addr["lender"],)),
        "paused": (lending, "paused", ()),
        "coll_price": (lending, "collateral_price", ()),
        "threshold": (lending, "liquidation_threshold", ()),
        "ramp": (lending, "threshold_ramp", ()),
    }
    for k in range(len(breaker_bounds)):
        reads[f"bp{k}"] = (breaker, "params", (mid, k))
    for k in range(10):
        reads[f"lp{k}"] = (lending, "params", (k,))
    for i, b in enumerate(borrowers):
        reads[f"pos{i}"] = (lending, "positions", (b,))
        reads[f"debt{i}"] = (lending, "debt_of", (b,))
        reads[f"liq{i}"] = (lending, "is_liquidatable", (b,))
    for i, lp in enumerate(lps):
        reads[f"shares{i}"] = (pool, "balanceOf", (lp,))
    for t, name in ((col, "col"), (debt, "debt")):
        reads[f"{name}_supply"] = (t, "totalSupply", ())
        for h in holders:
            reads[f"{name}:{h}"] = (t, "balanceOf", (h,))

    class CoupledMachine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.snapshot = rpc.request("evm_snapshot")
            run["examples"] += 1
            self.checked = False
            self.trips: Counter[int] = Counter()  # trips of any kind per UTC day (the budget counts all)
            self.bad_debt_step = 0  # bad debt realised in the current step
            self.answers = [FEED_UNIT] * 3  # each feed's last answer (8 decimals)
            self.previous: SimpleNamespace | None = None
            self.v = self.read()

        def teardown(self):
            rpc.request("evm_revert", self.snapshot)

        # ------------------------------------------------------------ reading the world

        def read(self) -> SimpleNamespace:
            r = rpc.read(reads)
            v = SimpleNamespace(
                **{
                    k: r[k]
                    for k in (
                        "state",
                        "frozen",
                        "reserves",
                        "pool_state",
                        "fee",
                        "lp_supply",
                        "lend_frozen",
                        "cash",
                        "total_assets",
                        "total_shares",
                        "lender_assets",
                        "paused",
                        "coll_price",
                        "threshold",
                        "col_supply",
                        "debt_supply",
                    )
                }
            )
            v.number, v.now = rpc.pending()
            v.status = Status(*r["status"])
            ind = r["indicators"]
            v.cvd, v.rl, v.si, v.vp = ind[3], ind[4], ind[5], ind[6]
            v.reference = r["latest"][0]
            v.band = SimpleNamespace(
                **dict(zip(("centre", "updated_at", "width", "refresh", "max_age"), r["band"], strict=True))
            )
            v.guard = SimpleNamespace(**dict(zip(("state", "since", "grace_until"), r["guard"], strict=True)))
            v.ramp = SimpleNamespace(
                **dict(zip(("from_bps", "to_bps", "start", "end"), r["ramp"], strict=True))
            )
            v.bp = [r[f"bp{k}"] for k in range(len(breaker_bounds))]
            v.lp = [r[f"lp{k}"] for k in range(10)]
            v.positions = [tuple(r[f"pos{i}"]) for i in range(2)]
            v.debts = [r[f"debt{i}"] for i in range(2)]
            v.liquidatable = [r[f"liq{i}"] for i in range(2)]
            v.shares = [r[f"shares{i}"] for i in range(2)]
            v.balances = {(name, h): r[f"{name}:{h}"] for name in ("col", "debt") for h in holders}
            return v

        def bal(self, token: str, who: str) -> int:
            return self.v.balances[(token, who)]

        def record(self, what: str) -> None:
            tally[what] += 1

        # ------------------------------------------------------------ shared checks

        def swap(self, sell: bool, amount: int, why: str) -> None:
            """Sends a swap whose outcome is predicted exactly from the pool's rules."""
            v = self.v
            amount = min(amount, self.bal("col" if sell else "debt", addr["trader"]))
            if amount <= 0:
                return
            expected, out = self.swap_outcome(sell, amount)
            tx = rpc.send(pool, "swap", sell, amount, 0, NO_DEADLINE, sender=addr["trader"])
            self.record(f"{why}: {'executed' if tx.ok else tx.reason}")
            if tx.ok:
                # The coupling itself: a swap only ever executes in NORMAL.
                assert v.pool_state == NORMAL and v.status.state == NORMAL and v.state == NORMAL, (
                    f"a swap executed while the market was {STATE_NAMES[v.state]}"
                )
            assert (None if tx.ok else tx.reason) == expected, (tx.reason, expected)
            if tx.ok:
                x, y = v.reserves
                assert rpc.call(pool, "reserves") == (
                    (x + amount, y - out) if sell else (x - out, y + amount)
                )

        def swap_outcome(self, sell: bool, amount: int) -> tuple[str | None, int]:
            v = self.v
            if v.pool_state != NORMAL:
                return CLOSED[v.pool_state], 0
            x, y = v.reserves
            r_in, r_out = (x, y) if sell else (y, x)
            out = amount_out(amount, r_in, r_out, v.fee)
            if out == 0:
                return "GuardedPool: output is zero", 0
            nx, ny = (x + amount, y - out) if sell else (x - out, y + amount)
            centre, b = v.band.centre, v.band
            if v.now > b.updated_at + b.refresh:
                if 0 < v.reference <= MASK_128:
                    centre = v.reference
                elif b.updated_at == 0 or v.now > b.updated_at + b.max_age:
                    return STALE, 0
            num, den = ny * DEBT_SCALE * WAD, nx
            if sell and num // den * BPS < centre * (BPS - b.width):
                return "GuardedPool: price below band", 0
            if not sell and ceil_div(num, den) * BPS > centre * (BPS + b.width):
                return "GuardedPool: price above band", 0
            return None, out

        def breaker_tx(
            self, name: str, args: tuple, sender: str, expected: str | None, after: Status | None
        ) -> Tx:
            """Sends a breaker transaction, checks its predicted outcome and the status it stores."""
            tx = rpc.send(breaker, name, mid, *args, sender=sender)
            self.record(f"{name}: {'done' if tx.ok else tx.reason.split(',')[0]}")
            if expected is not None and expected.startswith(BELOW_QUORUM):
                assert not tx.ok and tx.reason.startswith(BELOW_QUORUM), (name, tx.reason)
            else:
                assert (None if tx.ok else tx.reason) == expected, (name, tx.reason, expected)
            if tx.ok and after is not None:
                assert Status(*rpc.call(breaker, "status", mid)) == after, name
            return tx

        def synced(self) -> Status:
            return advance(self.v.status, self.v.bp, self.v.now)

        def budget_error(self, s: Status) -> str | None:
            if s.trip_day == self.v.now // DAY and s.trips_today >= self.v.bp[K["daily_trip_budget"]]:
                return "CircuitBreaker: daily trip budget spent, guardian only"
            return None

        def tripped(self, s: Status) -> Status:
            now, p = self.v.now, self.v.bp
            today = now // DAY
            return Status(
                HALTED,
                now,
                now + halt_window(p),
                now + p[K["max_halt_s"]],
                today,
                s.trips_today + 1 if s.trip_day == today else 1,
                0,
                0,
            )

        def after_trip(self, tx: Tx, permissionless: bool) -> None:
            if not tx.ok:
                return
            day = self.v.now // DAY
            if permissionless:  # rule A and B stop at the budget; guardian trips count toward it
                assert self.trips[day] < self.v.bp[K["daily_trip_budget"]], "a trip beyond the daily budget"
            self.trips[day] += 1
            # The frozen price is the reference at the trip; with none valid, the last one stays.
            assert rpc.call(breaker, "frozen_price", mid) == (self.v.reference or self.v.frozen)

        def rule_a_error(self, s: Status, confirming: bool) -> str | None:
            v = self.v
            if s.state == HALTED:
                return "CircuitBreaker: market is halted"
            if s.state != NORMAL:
                return VENUE_CLOSED
            if err := self.budget_error(s):
                return err
            live = s.armed_block != 0 and v.now <= s.armed_at + v.bp[K["arm_ttl_s"]]
            if confirming:
                if s.armed_block == 0:
                    return "CircuitBreaker: not armed"
                if not live:
                    return "CircuitBreaker: arm expired"
            elif live:
                return "CircuitBreaker: already armed"
            cvd = v.cvd
            if confirming:  # the deviation must hold at every block start since the arm and over the hold
                since = min(s.armed_block, v.number - min(v.bp[K["hold_blocks"]], v.number))
                low, high, complete = rpc.call(pool, "settled_range", since)
                if not complete and v.number != s.armed_block + 1:
                    return "CircuitBreaker: venue cannot show every block since the arm"
                if v.reference == 0:
                    return BELOW_QUORUM
                ref = v.reference
                cvd = (
                    (ref - high) * BPS // ref if high < ref else (low - ref) * BPS // ref if low > ref else 0
                )
                if cvd <= v.bp[K["cvd_trip_bps"]]:
                    return "CircuitBreaker: deviation did not hold over the hold and since the arm"
            if v.reference == 0:
                return BELOW_QUORUM
            if cvd <= v.bp[K["cvd_trip_bps"]]:
                return "CircuitBreaker: deviation below trip threshold"
            if v.rl >= v.bp[K["rl_trip_bps"]]:
                return "CircuitBreaker: depth above trip threshold"
            return None

        def resume_error(self, s: Status, confirming: bool) -> str | None:
            v = self.v
            if s.state != HALTED:
                return "CircuitBreaker: market is not halted"
            if v.now < s.resume_after:
                return "CircuitBreaker: halt window not over"
            live = s.armed_block != 0 and v.now <= s.armed_at + v.bp[K["arm_ttl_s"]]
            if confirming:
                if s.armed_block == 0:
                    return "CircuitBreaker: not armed"
                if not live:
                    return "CircuitBreaker: arm expired"
            elif live:
                return "CircuitBreaker: already armed"
            if v.reference == 0:
                return BELOW_QUORUM
            # The venue is a consumer (closed by the halt): recovery is judged on depth only.
            if v.rl <= v.bp[K["rl_resume_bps"]]:
                return "CircuitBreaker: depth below resume threshold"
            return None

        # ------------------------------------------------------------ initial positions

        @initialize(ltv=st.lists(st.integers(min_value=50, max_value=69), min_size=2, max_size=2))
        def open_positions(self, ltv):
            """Both borrowers start at 50-69% LTV (max 70%, threshold 80%) on 1M collateral:
            liquidatable after a fall of 14-38%."""
            for who, pct in zip(borrowers, ltv, strict=True):
                tx = rpc.send(lending, "borrow", 1_000_000 * pct // 100 * USD, sender=who)
                assert tx.ok, tx.reason

        # ------------------------------------------------------------ trading

        @rule(
            sell=st.booleans(),
            size_bps=st.one_of(
                st.integers(min_value=1, max_value=100),
                st.integers(min_value=100, max_value=1_500),
                st.integers(min_value=1_500, max_value=5_000),
            ),
        )
        def swap_any_size(self, sell, size_bps):
            """From dust to a dump of half the input reserve."""
            x, y = self.v.reserves
            self.swap(sell, max(1, (x if sell else y) * size_bps // BPS), "swap")
            self.liquidator_sweeps()

        @rule(gap_bps=st.integers(min_value=-400, max_value=400))
        def arbitrage(self, gap_bps):
            """Trades the pool toward the reference (or the band centre when it is invalid)."""
            self.trade_toward_reference(gap_bps)
            self.liquidator_sweeps()

        def trade_toward_reference(self, gap_bps: int) -> None:
            v = self.v
            anchor = v.reference or v.band.centre
            x, y = v.reserves
            if not anchor or not x or not y:
                return
            target = anchor * (BPS + gap_bps) // BPS
            k = x * y * DEBT_SCALE  # both sides in 18 decimals
            new_x = math.isqrt(k * WAD // target)
            if new_x > x:
                self.swap(True, (new_x - x) * BPS // (BPS - v.fee), "arbitrage")
            elif new_x < x:
                new_y = k // new_x // DEBT_SCALE
                self.swap(False, (new_y - y) * BPS // (BPS - v.fee), "arbitrage")

        @rule(pull_bps=st.integers(min_value=8_000, max_value=9_900))
        def crash(self, pull_bps):
            """Makers pull most of the depth, a seller dumps down to the band floor, and anyone
            tries rule A (arm, then confirm in the next block)."""
            for i in range(2):
                self.remove_liquidity(i, pull_bps)
            self.v = self.read()
            v = self.v
            x, y = v.reserves
            floor = v.band.centre * (BPS - v.band.width) // BPS
            if not floor or not x:
                return
            new_x = math.isqrt(x * y * DEBT_SCALE * WAD // floor)
            self.swap(True, max(1, (new_x - x) * (BPS - 20) // (BPS - v.fee)), "crash dump")
            self.v = self.read()
            self.trip_by_rule_a()

        # ------------------------------------------------------------ liquidity

        @rule(
            i=st.integers(0, 1),
            size_bps=st.one_of(
                st.integers(min_value=1, max_value=5_000), st.integers(min_value=5_000, max_value=100_000)
            ),
        )
        def add_liquidity(self, i, size_bps):
            """Adding liquidity works in NORMAL and HALTED (it does not move the price), and is
            refused from COOLDOWN to the end of AUCTION (the reopening auction's clearing)."""
            v, lp = self.v, lps[i]
            x, y = v.reserves
            max_c = min(x * size_bps // BPS, self.bal("col", lp))
            max_d = min(y * size_bps // BPS, self.bal("debt", lp))
            shares = min(max_c * v.lp_supply // x, max_d * v.lp_supply // y) if x and y else 0
            tx = rpc.send(pool, "add_liquidity", max_c, max_d, 0, NO_DEADLINE, sender=lp)
            self.record(f"add_liquidity in {STATE_NAMES[v.pool_state]}: {'done' if tx.ok else tx.reason}")
            if v.pool_state in (COOLDOWN, AUCTION):
                assert tx.reason == "GuardedPool: deposits closed until the market reopens", tx.reason
                assert rpc.call(pool, "reserves") == (x, y)
                return
            if shares == 0:
                assert tx.reason == "GuardedPool: zero shares"
                return
            assert tx.ok, f"adding liquidity refused in {STATE_NAMES[v.pool_state]}: {tx.reason}"
            assert rpc.call(pool, "reserves") == (
                x + ceil_div(shares * x, v.lp_supply),
                y + ceil_div(shares * y, v.lp_supply),
            )

        @rule(i=st.integers(0, 1), part_bps=st.integers(min_value=1, max_value=10_000))
        def remove_liquidity(self, i, part_bps):
            """Proportional withdrawal works in every state and pays exactly the share."""
            v, lp = self.v, lps[i]
            shares = v.shares[i] * part_bps // BPS
            if shares == 0:
                return
            x, y = v.reserves
            tx = rpc.send(pool, "remove_liquidity", shares, 0, 0, sender=lp)
            self.record(f"remove_liquidity in {STATE_NAMES[v.pool_state]}")
            assert tx.ok, f"an LP could not exit in {STATE_NAMES[v.pool_state]}: {tx.reason}"
            assert rpc.call(pool, "reserves") == (
                x - shares * x // v.lp_supply,
                y - shares * y // v.lp_supply,
            )
            self.v = self.read()

        # ------------------------------------------------------------ lending

        @rule(amount=st.integers(min_value=1, max_value=500_000))
        def supply(self, amount):
            tx = rpc.send(lending, "supply", amount * USD, sender=addr["lender"])
            assert (None if tx.ok else tx.reason) == (PAUSED if self.v.paused else None), tx.reason

        @rule(part_bps=st.integers(min_value=100, max_value=10_000))
        def withdraw_idle(self, part_bps):
            """Lenders withdraw idle cash in every state."""
            amount = min(self.v.lender_assets, self.v.cash) * part_bps // BPS
            if amount:
                tx = rpc.send(lending, "withdraw", amount, sender=addr["lender"])
                assert tx.ok, f"lender could not withdraw idle cash: {tx.reason}"

        @rule(i=st.integers(0, 1), percent=st.sampled_from([10, 50, 90, 110, 150]))
        def borrow(self, i, percent):
            """A share of the room left under max LTV, or beyond it."""
            v, who = self.v, borrowers[i]
            collateral = v.positions[i][0]
            price = v.coll_price
            if isinstance(price, Reverted):
                room = v.cash
            else:
                room = collateral * price // COL * v.lp[0] // BPS // DEBT_SCALE - v.debts[i]
            amount = (min(room, v.cash) if percent < 100 else room) * percent // 100
            if amount <= 0:
                return
            tx = rpc.send(lending, "borrow", amount, sender=who)
            self.record(
                f"borrow in {STATE_NAMES[v.guard.state]}: {'done' if tx.ok else tx.reason.split(',')[0]}"
            )
            if v.paused:
                assert tx.reason == PAUSED
            elif v.guard.state != NORMAL:
                assert tx.reason == "LendingMarket: borrowing blocked by the breaker"
            elif amount > v.cash:
                assert tx.reason == "LendingMarket: not enough idle liquidity"
            elif isinstance(price, Reverted):
                assert not tx.ok and tx.reason == price.reason
            elif percent < 100 and room > 100:
                assert tx.ok, tx.reason
            elif percent > 100 and room > 1_000:
                assert tx.reason == "LendingMarket: borrow above max ltv"
            if tx.ok:  # within max LTV at the live price, afterwards
                assert (
                    rpc.call(lending, "debt_of", who) * DEBT_SCALE * BPS
                    <= collateral * price // COL * v.lp[0]
                )

        @rule(
            i=st.integers(0, 1),
            part_bps=st.integers(min_value=500, max_value=10_000),
            all_of_it=st.booleans(),
        )
        def repay(self, i, part_bps, all_of_it):
            """Repaying works in every state, oracle valid or not."""
            v, who = self.v, borrowers[i]
            if v.positions[i][1] == 0:
                return
            balance = self.bal("debt", who)
            amount = (
                MAX
                if all_of_it and balance >= v.debts[i]
                else min(balance, max(USD, v.debts[i] * part_bps // BPS))
            )
            if amount == 0:
                return
            tx = rpc.send(lending, "repay", who, amount, sender=who)
            self.record(f"repay in {STATE_NAMES[v.guard.state]}")
            assert tx.ok or tx.reason == "LendingMarket: repayment too small", f"repay refused: {tx.reason}"

        @rule(i=st.integers(0, 1), amount=st.integers(min_value=1, max_value=200_000))
        def deposit_collateral(self, i, amount):
            """Adding collateral works in every state."""
            who = borrowers[i]
            amount = min(amount * COL, self.bal("col", who))
            if amount:
                tx = rpc.send(lending, "deposit_collateral", who, amount, sender=who)
                assert tx.ok, f"adding collateral refused: {tx.reason}"

        @rule(i=st.integers(0, 1), part_bps=st.integers(min_value=100, max_value=10_000))
        def withdraw_collateral(self, i, part_bps):
            v, who = self.v, borrowers[i]
            collateral, debt_shares = v.positions[i]
            amount = collateral * part_bps // BPS
            if amount == 0:
                return
            if debt_shares == 0:
                expected = None
            elif v.guard.state != NORMAL:
                expected = "LendingMarket: collateral withdrawal blocked by the breaker"
            elif isinstance(v.coll_price, Reverted):
                expected = v.coll_price.reason
            elif v.debts[i] * DEBT_SCALE * BPS > (collateral - amount) * v.coll_price // COL * v.lp[0]:
                expected = "LendingMarket: withdrawal above max ltv"
            else:
                expected = None
            tx = rpc.send(lending, "withdraw_collateral", amount, sender=who)
            self.record(f"withdraw_collateral: {'done' if tx.ok else tx.reason.split(',')[0]}")
            assert (None if tx.ok else tx.reason) == expected, (tx.reason, expected)

        @rule(i=st.integers(0, 1))
        def liquidate(self, i):
            """The liquidator tries; frozen and grace refusals are exact, the rest follows the view."""
            v, who = self.v, borrowers[i]
            budget = self.bal("debt", addr["liquidator"])
            if budget == 0:
                return
            tx = rpc.send(lending, "liquidate", who, budget, sender=addr["liquidator"])
            outcome = "liquidated" if tx.ok else tx.reason.split(",")[0]
            self.record(f"liquidate in {STATE_NAMES[v.guard.state]}: {outcome}")
            if tx.ok:  # the coupling: never while frozen or in grace
                assert v.guard.state == NORMAL and v.status.state == NORMAL and v.state == NORMAL, (
                    "a liquidation executed while liquidations were frozen"
                )
                assert tx.timestamp >= v.guard.grace_until, "a liquidation executed in the grace period"
            if v.guard.state != NORMAL:
                assert tx.reason == "LendingMarket: liquidations frozen by the breaker"
            elif v.now < v.guard.grace_until:
                assert tx.reason == "LendingMarket: liquidation grace period"
            elif v.positions[i][1] == 0:
                assert tx.reason == "LendingMarket: no debt"
            elif isinstance(v.liquidatable[i], Reverted):  # live price invalid
                assert not tx.ok and tx.reason == v.liquidatable[i].reason
            elif not v.liquidatable[i]:
                assert tx.reason == "LendingMarket: position is healthy"
            else:
                assert tx.ok or tx.reason in (
                    "LendingMarket: nothing to liquidate",
                    "LendingMarket: repayment too small",
                ), tx.reason
            bad = sum(int(log["data"], 16) for log in tx.logs if log["topics"][0] == BAD_DEBT)
            self.bad_debt_step += bad
            if bad:
                self.record("bad debt written off")

        def liquidator_sweeps(self) -> None:
            """A liquidation bot: after anything that moves prices or time, it tries every position."""
            for i in range(2):
                self.v = self.read()
                if self.v.positions[i][1]:
                    self.liquidate(i)
            self.v = self.read()

        # ------------------------------------------------------------ the world: feeds and time

        def post(self, i: int, answer: int) -> None:
            assert rpc.send(feeds[i], "set_answer", answer, sender=addr["deployer"]).ok
            self.answers[i] = answer

        @rule(move_bps=st.integers(min_value=-3_000, max_value=3_000), feeds_moved=st.sampled_from([1, 2, 3]))
        def move_reference(self, move_bps, feeds_moved):
            """One feed moving alone does not move the median; two or three do."""
            for i in range(feeds_moved):
                self.post(i, max(1, FEED_UNIT * (BPS + move_bps) // BPS))
            self.liquidator_sweeps()

        @rule(i=st.integers(0, 2), broken=st.booleans())
        def break_feed(self, i, broken):
            assert rpc.send(feeds[i], "set_broken", broken, sender=addr["deployer"]).ok

        @rule()
        def refresh_feeds(self):
            """A fresh round of every feed at its current answer."""
            for i in range(3):
                self.post(i, self.answers[i])

        @rule(
            seconds=st.one_of(
                st.integers(min_value=1, max_value=60),
                st.integers(min_value=60, max_value=600),
                st.integers(min_value=600, max_value=4_000),
                st.integers(min_value=4_000, max_value=20_000),
                st.just(DAY),
            ),
            refresh=st.booleans(),
        )
        def advance_time(self, seconds, refresh):
            """Across arm TTLs, halt windows, cool-downs, auctions, max halts and days; the feeds go
            stale (heartbeat 1 h) unless they post a new round."""
            rpc.jump(seconds)
            if refresh:
                self.refresh_feeds()
            self.liquidator_sweeps()

        @rule(
            hops=st.integers(min_value=1, max_value=4),
            which=st.integers(min_value=0, max_value=1),
            offset=st.sampled_from([-1, 0, 0, 1, 2, 30, 120]),
            then=st.sampled_from(["nothing", "liquidate", "swap", "sync"]),
        )
        def advance_to_next_phase(self, hops, which, offset, then):
            """Time to the next deadlines (end of the halt window, lapse, end of cool-down, end of
            auction, end of the liquidation grace period), a keeper syncing at each; the last one
            is hit just before, exactly at or after, and someone acts right there."""
            for hop in range(hops):
                s, v = self.synced(), self.v
                deadlines = {
                    HALTED: [s.resume_after, s.lapse_at],
                    COOLDOWN: [s.since + v.bp[K["cooldown_s"]]],
                    AUCTION: [s.since + v.bp[K["auction_s"]]],
                    NORMAL: [v.guard.grace_until],
                }[s.state]
                ahead = sorted(d for d in deadlines if d > v.now)
                if not ahead:
                    break
                last = hop == hops - 1
                target = ahead[min(which, len(ahead) - 1)] + (offset if last else 0)
                if target > v.now:  # the next transaction lands exactly at `target`
                    rpc.jump(target - v.now)
                self.v = self.read()
                if not last:
                    self.sync()
                    self.v = self.read()
            if then == "liquidate":
                self.liquidator_sweeps()
            elif then == "swap":
                self.swap_any_size(True, 10)
            elif then == "sync":
                self.sync()

        @rule(
            drop_bps=st.integers(min_value=1_200, max_value=5_000),
            then=st.sampled_from(["keeper trips first", "liquidator first"]),
        )
        def flash_crash(self, drop_bps, then):
            """Reference and pool fall together inside the velocity window (rule B's evidence);
            then the keeper and the liquidation bot race."""
            assert rpc.send(breaker, "poke", mid, sender=addr["trader"]).ok
            rpc.jump(61)  # past the band refresh, so the next swap re-centres on the new reference
            for i in range(3):
                self.post(i, FEED_UNIT * (BPS - drop_bps) // BPS)
            self.v = self.read()
            self.trade_toward_reference(0)  # the arbitrageur follows
            self.v = self.read()
            if then == "keeper trips first":
                self.keeper_trip(50_000)
            self.liquidator_sweeps()

        # ------------------------------------------------------------ the breaker

        @rule()
        def arm_trip(self):
            s = self.synced()
            expected = self.rule_a_error(s, confirming=False)
            after = s._replace(armed_block=self.v.number, armed_at=self.v.now)
            self.breaker_tx("arm_trip", (), addr["trader"], expected, after)

        @rule()
        def trip_by_rule_a(self):
            """Arm, then confirm in the next block: the two-block rule A."""
            self.arm_trip()
            self.v = self.read()
            self.confirm_trip()

        @rule()
        def resume_when_recovered(self):
            """Arm the resume, then confirm it in the next block."""
            self.arm_resume()
            self.v = self.read()
            self.confirm_resume()

        @rule(extra_s=st.integers(min_value=0, max_value=600))
        def recovery(self, extra_s):
            """Makers bring the depth back, the halt window passes, the feeds post, and anyone
            resumes (arm, then confirm)."""
            s, v = self.synced(), self.v
            if s.state == HALTED and s.resume_after > v.now:
                rpc.jump(s.resume_after - v.now + extra_s)
            self.refresh_feeds()
            self.v = v = self.read()
            target = v.bp[K["rl_resume_bps"]] + 1_000
            if v.rl < target:
                self.add_liquidity(0, (target - v.rl) * BPS // max(v.rl, 1))
                self.v = self.read()
            self.resume_when_recovered()

        @rule()
        def confirm_trip(self):
            s = self.synced()
            expected = self.rule_a_error(s, confirming=True)
            tx = self.breaker_tx("trip", (), addr["trader"], expected, None if expected else self.tripped(s))
            self.after_trip(tx, permissionless=True)

        @rule(lce_bps=st.sampled_from([5_000, 10_000, 50_000]))
        def keeper_trip(self, lce_bps):
            v, s = self.v, self.synced()
            if s.state == HALTED:
                expected = "CircuitBreaker: market is halted"
            elif s.state != NORMAL:
                expected = VENUE_CLOSED
            elif err := self.budget_error(s):
                expected = err
            elif lce_bps < v.bp[K["lce_critical_bps"]]:
                expected = "CircuitBreaker: attested LCE below critical"
            elif v.vp <= v.bp[K["vp_trip_bps"]]:
                expected = "CircuitBreaker: price velocity below trip threshold"
            elif v.si <= v.bp[K["si_trip_bps"]]:
                expected = "CircuitBreaker: slippage impact below trip threshold"
            else:
                expected = None
            tx = self.breaker_tx(
                "trip_attested", (lce_bps,), addr["keeper"], expected, None if expected else self.tripped(s)
            )
            self.after_trip(tx, permissionless=True)

        @rule()
        def guardian_trip(self):
            s = self.synced()
            expected = "CircuitBreaker: market is halted" if s.state == HALTED else None
            tx = self.breaker_tx(
                "guardian_trip", (), addr["guardian"], expected, None if expected else self.tripped(s)
            )
            self.after_trip(tx, permissionless=False)

        @rule(duration=st.one_of(st.integers(min_value=1, max_value=7_200), st.sampled_from([0, 100_000])))
        def guardian_extend(self, duration):
            v, s = self.v, self.synced()
            if s.state != HALTED:
                expected = "CircuitBreaker: market is not halted"
            elif not 0 < duration <= v.bp[K["max_halt_s"]]:
                expected = "CircuitBreaker: duration out of bounds"
            else:
                expected = None
            until = min(max(s.resume_after, v.now + duration), s.lapse_at)
            self.breaker_tx(
                "guardian_extend",
                (duration,),
                addr["guardian"],
                expected,
                s._replace(resume_after=until, armed_block=0, armed_at=0),
            )

        @rule(lce_bps=st.sampled_from([5_000, 10_000]))
        def keeper_extend(self, lce_bps):
            v, s = self.v, self.synced()
            if s.state != HALTED:
                expected = "CircuitBreaker: market is not halted"
            elif lce_bps < v.bp[K["lce_critical_bps"]]:
                expected = "CircuitBreaker: attested LCE below critical"
            else:
                expected = None
            until = min(max(s.resume_after, v.now + halt_window(v.bp)), s.lapse_at)
            self.breaker_tx(
                "extend_halt",
                (lce_bps,),
                addr["keeper"],
                expected,
                s._replace(resume_after=until, armed_block=0, armed_at=0),
            )

        @rule()
        def arm_resume(self):
            s = self.synced()
            expected = self.resume_error(s, confirming=False)
            self.breaker_tx(
                "arm_resume",
                (),
                addr["trader"],
                expected,
                s._replace(armed_block=self.v.number, armed_at=self.v.now),
            )

        @rule()
        def confirm_resume(self):
            s = self.synced()
            expected = self.resume_error(s, confirming=True)
            self.breaker_tx(
                "resume",
                (),
                addr["trader"],
                expected,
                s._replace(state=COOLDOWN, since=self.v.now, armed_block=0, armed_at=0),
            )

        @rule()
        def force_resume(self):
            s = self.synced()
            expected = None if s.state == HALTED else "CircuitBreaker: market is not halted"
            self.breaker_tx(
                "force_resume",
                (),
                addr["governance"],
                expected,
                s._replace(state=COOLDOWN, since=self.v.now, armed_block=0, armed_at=0),
            )

        @rule()
        def sync(self):
            self.breaker_tx("sync", (), addr["trader"], None, self.synced())

        @rule()
        def poke(self):
            s = self.synced()
            self.breaker_tx("poke", (), addr["trader"], None, s)

        # ------------------------------------------------------------ governance

        @rule(key=st.integers(min_value=0, max_value=len(P.PARAMS) - 1), data=st.data())
        def set_breaker_param(self, key, data):
            low, high = breaker_bounds[key]
            value = data.draw(in_bounds_or_not(low, high, P.PARAMS[key].default))
            updated = list(self.v.bp)
            updated[key] = value
            if not low <= value <= high:
                expected = f"CircuitBreaker: parameter {key} out of bounds"
            else:
                expected = breaker_consistency(updated)
            if self.breaker_tx("set_param", (key, value), addr["governance"], expected, None).ok:
                assert rpc.call(breaker, "params", mid, key) == value

        @rule(which=st.sampled_from(["fee", "band", "timing"]), data=st.data())
        def set_pool_param(self, which, data):
            if which == "fee":
                value = data.draw(in_bounds_or_not(0, 100, 30))
                args, name = (value,), "set_fee_bps"
                expected = None if value <= 100 else "GuardedPool: fee out of bounds"
            elif which == "band":
                value = data.draw(in_bounds_or_not(10, 5_000, 500))
                args, name = (value,), "set_band_bps"
                expected = None if 10 <= value <= 5_000 else "GuardedPool: band width out of bounds"
            else:
                refresh = data.draw(in_bounds_or_not(12, 3_600, 60))
                max_age = data.draw(in_bounds_or_not(60, 86_400, 900))
                args, name = (refresh, max_age), "set_band_timing"
                if not 12 <= refresh <= 3_600:
                    expected = "GuardedPool: band refresh out of bounds"
                elif not 60 <= max_age <= 86_400:
                    expected = "GuardedPool: band max age out of bounds"
                elif max_age < refresh:
                    expected = "GuardedPool: band max age below refresh"
                else:
                    expected = None
            tx = rpc.send(pool, name, *args, sender=addr["governance"])
            self.record(f"{name}: {'done' if tx.ok else tx.reason}")
            assert (None if tx.ok else tx.reason) == expected, (name, args, tx.reason)
            if tx.ok and name == "set_band_timing":
                assert tuple(rpc.call(pool, "band")[3:]) == args

        @rule(key=st.integers(min_value=0, max_value=9), data=st.data())
        def set_lending_param(self, key, data):
            v = self.v
            low, high = lending_bounds[key]
            value = data.draw(in_bounds_or_not(low, high, lending_defaults[key]))
            updated = list(v.lp)
            updated[key] = value
            current = v.threshold
            t_low, t_high = min(current, v.ramp.to_bps), max(current, v.ramp.to_bps)
            if not low <= value <= high:
                expected = f"LendingMarket: parameter {key} out of bounds"
            elif updated[0] + 500 > t_low:
                expected = "LendingMarket: max ltv too close to the threshold"
            elif t_high * (BPS + updated[2]) >= BPS * BPS:
                expected = "LendingMarket: bonus too high for the threshold"
            else:
                expected = None
            tx = rpc.send(lending, "set_param", key, value, sender=addr["governance"])
            self.record(f"lending set_param: {'done' if tx.ok else tx.reason}")
            assert (None if tx.ok else tx.reason) == expected, (key, value, tx.reason)
            if tx.ok:
                assert rpc.call(lending, "params", key) == value

        @rule(
            new_bps=st.integers(min_value=4_900, max_value=9_600),
            duration=st.sampled_from([3_600, 21_600, 86_400]),
        )
        def ramp_threshold(self, new_bps, duration):
            v = self.v
            current = v.threshold
            if not 5_000 <= new_bps <= 9_500:
                expected = "LendingMarket: threshold out of bounds"
            elif not v.lp[9] <= duration <= 90 * DAY:
                expected = "LendingMarket: ramp duration out of bounds"
            elif new_bps == current:
                expected = "LendingMarket: threshold unchanged"
            elif v.lp[0] + 500 > min(current, new_bps):
                expected = "LendingMarket: max ltv too close to the threshold"
            elif max(current, new_bps) * (BPS + v.lp[2]) >= BPS * BPS:
                expected = "LendingMarket: bonus too high for the threshold"
            else:
                expected = None
            tx = rpc.send(lending, "set_liquidation_threshold", new_bps, duration, sender=addr["governance"])
            self.record(f"ramp_threshold: {'done' if tx.ok else tx.reason}")
            assert (None if tx.ok else tx.reason) == expected, (new_bps, duration, tx.reason)

        @rule(kind=st.sampled_from([PRICE_ORACLE, PRICE_VENUE]))
        def set_price_source(self, kind):
            source = w.oracle.address if kind == PRICE_ORACLE else w.pool.address
            assert rpc.send(lending, "set_price_source", kind, source, sender=addr["governance"]).ok

        @rule()
        def toggle_pause(self):
            assert rpc.send(lending, "unpause" if self.v.paused else "pause", sender=addr["governance"]).ok

        # ------------------------------------------------------------ nobody beyond their role

        @rule(call=st.integers(min_value=0, max_value=10**6), caller=st.integers(min_value=0, max_value=9))
        def unauthorised_call(self, call, caller):
            """Every privileged function, from every account without the role, reverts naming it."""
            gov, guardian, keeper_ = addr["governance"], addr["guardian"], addr["keeper"]
            calls = [
                (breaker, "set_param", (mid, 0, 300), {gov}, MISSING_ROLE),
                (breaker, "force_resume", (mid,), {gov}, MISSING_ROLE),
                (breaker, "add_consumer", (mid, feeds[0].address), {gov}, MISSING_ROLE),
                (breaker, "remove_consumer", (mid, pool.address), {gov}, MISSING_ROLE),
                (breaker, "set_auction", (mid, ZERO_ADDRESS), {gov}, MISSING_ROLE),
                (breaker, "register_market", (pool.address, oracle.address, self.v.bp), {gov}, MISSING_ROLE),
                (breaker, "grantRole", (roles["KEEPER"], everyone[caller]), {gov}, MISSING_ROLE),
                (breaker, "revokeRole", (roles["GUARDIAN"], guardian), {gov}, MISSING_ROLE),
                (breaker, "trip_attested", (mid, 10**6), {keeper_}, MISSING_ROLE),
                (breaker, "extend_halt", (mid, 10**6), {keeper_}, MISSING_ROLE),
                (breaker, "guardian_trip", (mid,), {guardian}, MISSING_ROLE),
                (breaker, "guardian_extend", (mid, 60), {guardian}, MISSING_ROLE),
                (
                    breaker,
                    "settle_auction",
                    (mid,),
                    set(),
                    "CircuitBreaker: caller is not the market's auction",
                ),
                (pool, "set_fee_bps", (30,), {gov}, NOT_OWNER),
                (pool, "set_band_bps", (500,), {gov}, NOT_OWNER),
                (pool, "set_band_timing", (60, 900), {gov}, NOT_OWNER),
                (pool, "set_auction", (ZERO_ADDRESS,), {gov}, NOT_OWNER),
                (pool, "transfer_ownership", (everyone[caller],), {gov}, NOT_OWNER),
                (
                    pool,
                    "on_breaker_state",
                    (mid, NORMAL, WAD),
                    set(),
                    "GuardedPool: caller is not the breaker",
                ),
                (pool, "clear_auction", (WAD, 0, 0), set(), "GuardedPool: caller is not the auction"),
                (lending, "set_param", (0, 7_000), {gov}, NOT_OWNER),
                (lending, "set_liquidation_threshold", (8_500, DAY), {gov}, NOT_OWNER),
                (lending, "set_breaker", (ZERO_ADDRESS, 0), {gov}, NOT_OWNER),
                (lending, "set_price_source", (PRICE_ORACLE, oracle.address), {gov}, NOT_OWNER),
                (lending, "pause", (), {gov}, NOT_OWNER),
                (lending, "transfer_ownership", (everyone[caller],), {gov}, NOT_OWNER),
                (
                    lending,
                    "on_breaker_state",
                    (mid, NORMAL, WAD),
                    set(),
                    "LendingMarket: caller is not the breaker",
                ),
                (oracle, "add_feed", (feeds[0].address, 3_600), {gov}, NOT_OWNER),
                (oracle, "set_quorum", (1,), {gov}, NOT_OWNER),
            ]
            c, name, args, allowed, message = calls[call % len(calls)]
            who = everyone[caller]
            if who in allowed:
                return
            result = rpc.call(c, name, *args, sender=who)
            self.record("unauthorised call refused")
            assert result == Reverted(message), f"{name} by {who}: {result}"

        # ------------------------------------------------------------ invariants

        @invariant()
        def the_coupling_holds(self):
            if self.checked:
                run["steps"] += 1
            self.checked = True
            v = self.v = self.read()
            self.cached_states_follow_the_breaker(v)
            self.status_word_agrees_with_views(v)
            self.tokens_conserved(v)
            self.everyone_can_exit(v)
            self.lenders_lose_only_bad_debt(v)
            self.grace_follows_the_halt(v)
            self.previous = v
            self.bad_debt_step = 0

        def cached_states_follow_the_breaker(self, v):
            stored = v.status.state
            assert v.pool_state == stored, f"pool caches {v.pool_state}, breaker stored {stored}"
            assert v.guard.state == stored, f"lending caches {v.guard.state}, breaker stored {stored}"
            if stored != NORMAL:  # frozen valuation: the breaker's price at the trip
                assert v.lend_frozen == v.frozen
                assert v.coll_price == v.frozen
                assert v.liquidatable == [False, False]

        def status_word_agrees_with_views(self, v):
            s, p = v.status, v.bp
            assert v.state == advance(s, p, v.now).state, (s, v.state)
            assert s.since <= v.now and s.trip_day <= v.now // DAY
            assert s.state in STATE_NAMES
            if s.state == HALTED:
                assert s.since <= s.resume_after <= s.lapse_at
            assert (s.armed_block == 0) == (s.armed_at == 0)
            if s.trips_today or self.trips:
                assert s.trips_today == self.trips[s.trip_day], (s, self.trips)

        def tokens_conserved(self, v):
            x, y = v.reserves
            assert self.bal("col", w.pool.address) == x and self.bal("debt", w.pool.address) == y
            assert self.bal("debt", w.lending.address) == v.cash
            assert self.bal("col", w.lending.address) == sum(c for c, _ in v.positions)
            for name, total in (("col", v.col_supply), ("debt", v.debt_supply)):
                assert total == supply[name]
                assert sum(self.bal(name, h) for h in holders) == total

        def everyone_can_exit(self, v):
            x, y = v.reserves
            calls = {
                f"lp{i}": (pool, "remove_liquidity", (v.shares[i], 0, 0), lp)
                for i, lp in enumerate(lps)
                if v.shares[i]
            }
            idle = min(v.lender_assets, v.cash)
            if idle:
                calls["lender"] = (lending, "withdraw", (idle,), addr["lender"])
            for i, b in enumerate(borrowers):
                calls[f"add{i}"] = (lending, "deposit_collateral", (b, 1), b)
                if v.positions[i][1] and self.bal("debt", b) >= v.debts[i]:
                    calls[f"repay{i}"] = (lending, "repay", (b, MAX), b)
            results = rpc.read(calls)
            for key, result in results.items():
                assert not isinstance(result, Reverted), (
                    f"{key} cannot exit in {STATE_NAMES[v.state]}: {result}"
                )
            for i in range(2):
                if f"lp{i}" in results:
                    assert tuple(results[f"lp{i}"]) == (
                        v.shares[i] * x // v.lp_supply,
                        v.shares[i] * y // v.lp_supply,
                    )

        def grace_follows_the_halt(self, v):
            """Leaving NORMAL records the time; coming back opens min(time away, max grace) of grace,
            from the transaction that brought it back (some block of the last step)."""
            before = self.previous
            if before is None:
                return
            first, last = before.now, v.now - 1  # the step's blocks
            g = v.guard
            if before.guard.state == NORMAL and g.state != NORMAL:
                assert first <= g.since <= last, (g, first, last)
            if before.guard.state != NORMAL and g.state == NORMAL:

                def grace_end(t):
                    return t + min(t - g.since, v.lp[8])

                assert grace_end(first) <= g.grace_until <= grace_end(last), (g, first, last)

        def lenders_lose_only_bad_debt(self, v):
            before = self.previous
            if before is None:
                return
            # Share price (virtual share and asset included) as a fraction; compare cross-multiplied.
            now_num, now_den = v.total_assets + 1, v.total_shares + 1
            was_num, was_den = before.total_assets + 1, before.total_shares + 1
            fell = now_num * was_den < was_num * now_den
            frozen = before.guard.state != NORMAL and v.guard.state != NORMAL
            if frozen:
                assert self.bad_debt_step == 0, "bad debt realised while liquidations were frozen"
            assert not fell or self.bad_debt_step > 0, "lenders' share price fell without bad debt"

    return CoupledMachine
