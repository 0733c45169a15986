"""A local anvil chain and a web3-only deployment of the contracts, for tests, benchmarks and demos.

Never used against a live network: it deploys mock venues and feeds and uses anvil's
well-known development keys.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from eth_account import Account
from eth_typing import ChecksumAddress
from web3 import Web3
from web3.contract import Contract
from web3.types import RPCEndpoint, Wei

from deployment.wiring import (
    AuctionTerms,
    PoolTerms,
    address_of,
    default_minimums,
    deploy_guarded_pool,
    seed_pool,
    wire_pool_market,
)
from devchain.loopback import keep_alive
from keeper import abi
from keeper import params as P
from keeper.chain import json_rpc, json_rpc_batch

WAD = 10**18
MNEMONIC = "test test test test test test test test test test test junk"
CALM_DEPTH = 8_000_000 * WAD


def dev_key(index: int) -> str:
    """Private key (0x hex) of anvil's development account `index`."""
    Account.enable_unaudited_hdwallet_features()
    acct = Account.from_mnemonic(MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
    return acct.key.hex() if acct.key.hex().startswith("0x") else "0x" + acct.key.hex()


def _dies_with_this_process(cmd: list[str]) -> list[str]:
    """Prefixes `cmd` so the kernel stops it when this process dies, however it dies (SIGKILL included):
    a killed replay or test run leaves no node behind. Uses util-linux `setpriv --pdeathsig` (the signal
    survives its exec of anvil), so no Python runs between fork and exec. Only from the main thread: the
    kernel ties the signal to the spawning thread, and a worker thread's exit must not stop a node the
    process still uses. Elsewhere `stop()` and `__exit__` are the only clean-up."""
    setpriv = shutil.which("setpriv")
    if (
        setpriv is None
        or not sys.platform.startswith("linux")
        or threading.current_thread() is not threading.main_thread()
    ):
        return cmd
    return [setpriv, "--pdeathsig", "TERM", "--", *cmd]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Anvil:
    """An anvil subprocess on a free loopback port; stopped by its own pid."""

    def __init__(
        self,
        *,
        automine: bool = True,
        block_time: float | None = None,
        gas_limit: int | None = None,
        base_fee: int = 1_000_000_000,
        accounts: int = 10,
        extra: list[str] | None = None,
    ) -> None:
        exe = shutil.which("anvil")
        if exe is None:
            raise RuntimeError("anvil not found on PATH: add node_modules/.bin (make install)")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [
            exe,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--silent",
            "--accounts",
            str(accounts),
            "--mnemonic",
            MNEMONIC,
            "--base-fee",
            str(base_fee),
        ]
        if not automine:
            cmd.append("--no-mining")
        if block_time is not None:
            cmd += ["--block-time", str(block_time)]
        if gas_limit is not None:
            cmd += ["--gas-limit", str(gas_limit)]
        cmd += extra or []
        # Its own session: a Ctrl-C in the terminal reaches only the caller, which then stops the node.
        self.proc = subprocess.Popen(
            _dies_with_this_process(cmd),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        # A local node: one kept-alive connection (devchain/loopback.py), and the chain id, which web3
        # asks for before every call and transaction, asked once.
        self.w3 = Web3(
            keep_alive(
                Web3.HTTPProvider(
                    self.url,
                    request_kwargs={"timeout": 10},
                    cache_allowed_requests=True,
                    cacheable_requests={RPCEndpoint("eth_chainId")},
                )
            )
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                stderr = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"anvil exited: {stderr[-500:]}")
            try:
                _ = self.w3.eth.block_number
                return
            except Exception:  # noqa: BLE001 - not listening yet, whatever the error
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("anvil did not answer within 20 s")

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        return _rpc(self.w3, method, params or [])

    def mine(self, blocks: int = 1) -> None:
        self.rpc("anvil_mine", [hex(blocks)])

    def set_automine(self, on: bool) -> None:
        self.rpc("evm_setAutomine", [on])

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(5)
        if self.proc.stderr:
            self.proc.stderr.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Crowd:
    """Competing users for congestion tests and benchmarks.

    Each pending transfer comes from a fresh funded address (impersonated on anvil), with fees
    drawn from a spread: tip lognormal around `tip_median_gwei` (sigma 0.6, clipped to
    [0.05, 20] gwei), max fee = base fee x U(1.25, 2.5) + tip. One transaction per sender:
    anvil evicts a sender's later transaction that outbids an earlier one still waiting.
    """

    def __init__(self, anvil: Anvil, seed: int = 7, tip_median_gwei: float = 1.5) -> None:
        self.anvil = anvil
        self.rng = random.Random(seed)
        self.tip_median = tip_median_gwei
        self.count = 0

    def send(self, n: int, base_fee: int, gas: int = 21_000) -> int:
        w3 = self.anvil.w3
        for _ in range(n):
            self.count += 1
            who = Web3.to_checksum_address(f"0x{0xC0FFEE:06x}{self.count:034x}")
            self.anvil.rpc("anvil_setBalance", [who, hex(10**18)])
            self.anvil.rpc("anvil_impersonateAccount", [who])
            tip = int(min(20.0, max(0.05, self.rng.lognormvariate(math.log(self.tip_median), 0.6))) * 10**9)
            w3.eth.send_transaction(
                {
                    "from": who,
                    "to": who,
                    "value": Wei(1),
                    "gas": gas,
                    "type": 2,
                    "maxPriorityFeePerGas": Wei(tip),
                    "maxFeePerGas": Wei(int(base_fee * self.rng.uniform(1.25, 2.5)) + tip),
                }
            )
        return n


def transact(w3: Web3, fn: Any, sender: str, **tx: Any) -> Any:
    """Sends a contract call from an unlocked dev account and waits for its receipt."""
    tx_hash = fn.transact({"from": sender, **tx})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    if receipt["status"] != 1:
        raise RuntimeError(f"transaction {tx_hash.hex()} reverted")
    return receipt


def deploy(w3: Web3, name: str, *args: Any, sender: str) -> Contract:
    factory = w3.eth.contract(abi=abi.load_abi(name), bytecode=abi.load_bytecode(name))
    receipt = transact(w3, factory.constructor(*args), sender)
    return w3.eth.contract(address=receipt["contractAddress"], abi=abi.load_abi(name))


class Web3Chain:
    """The deploy path (`deployment.wiring`) through web3: contracts from the build output, senders are
    unlocked accounts' addresses. Each transaction is mined and checked as it is sent, except inside
    `together()`, which sends its transactions as one batch mined in one block."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3
        self._queued: list[tuple[str, Contract, str, tuple[Any, ...]]] | None = None

    def deploy(self, name: str, *args: Any, sender: str) -> Contract:
        return deploy(self.w3, name, *args, sender=sender)

    def transact(self, contract: Contract, fn: str, *args: Any, sender: str) -> Any:
        """The receipt; None inside `together()`, where the transaction waits for the block."""
        if self._queued is not None:
            self._queued.append((sender, contract, fn, args))
            return None
        return transact(self.w3, getattr(contract.functions, fn)(*args), sender)

    def call(self, contract: Contract, fn: str, *args: Any) -> Any:
        return getattr(contract.functions, fn)(*args).call()

    def address(self, who: Any) -> str:
        return address_of(who)

    def mine(self) -> None:
        _rpc(self.w3, "evm_mine", [])

    @contextlib.contextmanager
    def together(self, *, gas: int, max_fee: int, tip: int) -> Iterator[None]:
        """Queues the transactions sent inside, then sends them as one JSON-RPC batch with explicit `gas`
        and fees (no estimates, which would see none of the others) and mines them in one block; raises
        unless every one succeeded. Nonces are given, so the order within a sender is the queue's."""
        if self._queued is not None:
            raise RuntimeError("together() does not nest")
        self._queued = []
        try:
            yield
            txs = self._queued
        finally:
            self._queued = None
        self._mine_batch(txs, gas=gas, max_fee=max_fee, tip=tip)

    def _mine_batch(
        self, txs: list[tuple[str, Contract, str, tuple[Any, ...]]], *, gas: int, max_fee: int, tip: int
    ) -> None:
        senders = sorted({sender for sender, *_ in txs})
        counts = _rpc_batch(self.w3, [("eth_getTransactionCount", [s, "latest"]) for s in senders])
        nonces = dict(zip(senders, (int(n, 16) for n in counts), strict=True))
        requests = []
        for sender, contract, fn, args in txs:
            data = getattr(contract.functions, fn)(*args)._encode_transaction_data()
            sent = {"from": sender, "to": contract.address, "data": data, "gas": hex(gas)}
            sent |= {
                "nonce": hex(nonces[sender]),
                "maxFeePerGas": hex(max_fee),
                "maxPriorityFeePerGas": hex(tip),
            }
            requests.append(("eth_sendTransaction", [sent]))
            nonces[sender] += 1
        _rpc(self.w3, "evm_setAutomine", [False])
        try:
            hashes = _rpc_batch(self.w3, requests)
            _rpc(self.w3, "anvil_mine", [hex(1)])
        finally:
            _rpc(self.w3, "evm_setAutomine", [True])
        receipts = _rpc_batch(self.w3, [("eth_getTransactionReceipt", [h]) for h in hashes])
        failed = [
            (txs[i][2], txs[i][3]) for i, r in enumerate(receipts) if r is None or int(r["status"], 16) != 1
        ]
        if failed:
            raise RuntimeError(f"{len(failed)} of {len(txs)} batched transactions failed, first: {failed[0]}")


def _rpc(w3: Web3, method: str, params: list[Any]) -> Any:
    """The result of one JSON-RPC request; raises with the node's error."""
    resp = json_rpc(w3, method, params)
    if "error" in resp:
        raise RuntimeError(f"{method}: {resp['error']}")
    return resp.get("result")


def _rpc_batch(w3: Web3, requests: list[tuple[str, list[Any]]]) -> list[Any]:
    """The results of `requests`, sent as one JSON-RPC batch, in their order; raises on any error."""
    if not requests:
        return []
    responses = json_rpc_batch(w3, requests)
    if not isinstance(responses, list):
        raise RuntimeError(f"batch of {len(requests)} refused: {responses.get('error', responses)}")
    out = []
    # The answers may come back in any order.
    for (method, _), resp in zip(requests, sorted(responses, key=lambda r: int(r["id"] or 0)), strict=True):
        if "error" in resp:
            raise RuntimeError(f"{method}: {resp['error']}")
        out.append(resp["result"])
    return out


@dataclass
class DevMarket:
    market_id: int
    venue: Contract
    oracle: Contract
    feed: Contract


@dataclass
class DevSystem:
    """Contracts deployed on a dev chain, and the roles' addresses."""

    w3: Web3
    breaker: Contract
    markets: list[DevMarket]
    governance: str
    keepers: list[ChecksumAddress]
    anyone: str
    extra: dict[str, Any] = field(default_factory=dict)

    def crash(
        self, market: int = 0, price: float = 0.90, depth_ratio: float = 0.10, slippage_bps: int = 0
    ) -> None:
        """Moves the mock venue so that rule A holds (CVD 10%, R_L 10% by default), and mines
        the blocks rule A's hold (the market's `hold_blocks`) needs beyond the move's own: a
        keeper that arms next confirms in the block after, as on a crash that has held."""
        self.move(market, price=price, depth_ratio=depth_ratio, slippage_bps=slippage_bps)
        m = self.markets[market]
        hold = self.breaker.functions.params(m.market_id, P.BY_NAME["hold_blocks"].key).call()
        if hold > 2:
            self.w3.provider.make_request(RPCEndpoint("anvil_mine"), [hex(hold - 2)])

    def move(
        self,
        market: int = 0,
        *,
        price: float | None = None,
        depth_ratio: float | None = None,
        slippage_bps: int | None = None,
    ) -> None:
        venue = self.markets[market].venue
        if price is not None:
            transact(self.w3, venue.functions.set_price(int(price * WAD)), self.anyone)
        if depth_ratio is not None:
            transact(self.w3, venue.functions.set_depth(int(CALM_DEPTH * depth_ratio)), self.anyone)
        if slippage_bps is not None:
            transact(self.w3, venue.functions.set_slippage_bps(slippage_bps), self.anyone)
        # The breaker reads a venue as a block opens: the next block is the first to show the move.
        json_rpc(self.w3, "evm_mine", [])

    def refresh_feeds(self) -> None:
        """A new round on every feed (keeps the reference valid across time jumps)."""
        for m in self.markets:
            answer = m.feed.functions.answer().call()
            transact(self.w3, m.feed.functions.set_answer(answer), self.anyone)


def deploy_system(
    w3: Web3,
    *,
    markets: int = 1,
    keepers: int = 1,
    accounts_offset: int = 0,
    params: dict[str, int] | None = None,
) -> DevSystem:
    """Deploys a CircuitBreaker with `markets` mock markets (venue at 1.0, calm depth, one feed).

    Accounts: 0 deployer/governance, 1.. `keepers` hold KEEPER_ROLE, the next one is `anyone`.
    Senders are anvil's unlocked dev accounts.
    """
    accts = w3.eth.accounts
    gov = accts[accounts_offset]
    keeper_addrs = [accts[accounts_offset + 1 + i] for i in range(keepers)]
    anyone = accts[accounts_offset + 1 + keepers]
    breaker = deploy(w3, "CircuitBreaker", sender=gov)
    values = P.as_array(P.resolve(params))
    deployed: list[DevMarket] = []
    for i in range(markets):
        venue = deploy(w3, "MockVenue", WAD, CALM_DEPTH, sender=gov)
        feed = deploy(w3, "MockAggregator", 8, 10**8, sender=gov)
        oracle = deploy(w3, "ReferenceOracle", 1, sender=gov)
        transact(w3, oracle.functions.add_feed(feed.address, 86_400), gov)
        transact(w3, breaker.functions.register_market(venue.address, oracle.address, values), gov)
        deployed.append(DevMarket(i, venue, oracle, feed))
    role = breaker.functions.KEEPER_ROLE().call()
    for k in keeper_addrs:
        transact(w3, breaker.functions.grantRole(role, k), gov)
    return DevSystem(w3, breaker, deployed, gov, keeper_addrs, anyone)


@dataclass
class DevPoolMarket:
    """A GuardedPool that is its own breaker market (venue and consumer), with its reopening auction."""

    market_id: int
    pool: Contract
    collateral: Contract
    debt: Contract
    oracle: Contract
    feed: Contract
    auction: Contract | None


def deploy_pool_market(
    system: DevSystem,
    *,
    price: float = 1.0,
    liquidity: int = 1_000_000,
    with_auction: bool = True,
    dlps: tuple[str, ...] = (),
    params: dict[str, int] | None = None,
) -> DevPoolMarket:
    """Adds a guarded pool market to `system`: tokens (collateral 18 decimals, debt 6), a feed and
    oracle at `price`, the pool seeded with `liquidity` collateral units at that price, registered
    as a new market with the pool as venue and consumer, band centred on the oracle. With
    `with_auction`, its ReopeningAuction (`deploy_auction`'s defaults) is named on both sides
    and `dlps` are registered. The same path (`deployment.wiring`) as `deployment.pool.deploy_pool`
    plus `deployment.auction.deploy_auction`, through web3.
    """
    w3, gov, breaker = system.w3, system.governance, system.breaker
    chain = Web3Chain(w3)
    collateral = deploy(w3, "MockERC20", "Mock collateral", "COL", 18, sender=gov)
    debt = deploy(w3, "MockERC20", "Mock debt", "DEBT", 6, sender=gov)
    feed = deploy(w3, "MockAggregator", 8, round(price * 10**8), sender=gov)
    oracle = deploy(w3, "ReferenceOracle", 1, sender=gov)
    transact(w3, oracle.functions.add_feed(feed.address, 86_400), gov)
    market_id = breaker.functions.market_count().call()
    pool = deploy_guarded_pool(
        chain,
        collateral,
        debt,
        breaker=breaker,
        market_id=market_id,
        oracle=oracle,
        owner=gov,
        terms=PoolTerms(),
        sender=gov,
    )
    deposits = ((collateral, liquidity * 10**18), (debt, round(liquidity * price * 10**6)))
    seed_pool(chain, pool, deposits, provider=gov, minter=gov)
    auction = wire_pool_market(
        chain,
        pool,
        breaker=breaker,
        market_id=market_id,
        oracle=oracle,
        governance=gov,
        sender=gov,
        register=P.as_array(P.resolve(params)),
        auction=AuctionTerms(*default_minimums(18, 6), dlps=dlps) if with_auction else None,
    )
    return DevPoolMarket(market_id, pool, collateral, debt, oracle, feed, auction)


def main(argv: list[str] | None = None) -> int:
    """`python -m devchain deploy|crash|recover|warp`: a demo system on a running local anvil."""
    import argparse

    import yaml

    parser = argparse.ArgumentParser(
        prog="python -m devchain",
        description="local anvil only: deploy mock markets, crash or recover a venue",
    )
    parser.add_argument("--rpc", default="http://127.0.0.1:8545")
    sub = parser.add_subparsers(dest="command", required=True)
    dep = sub.add_parser("deploy", help="deploy a breaker with mock markets; write a keeper config")
    dep.add_argument("--markets", type=int, default=1)
    dep.add_argument("--write", default=None, help="write a keeper YAML config here")
    for name in ("crash", "recover"):
        cmd = sub.add_parser(name, help=f"{name} a market's mock venue")
        cmd.add_argument("--breaker", required=True)
        cmd.add_argument("--market", type=int, default=0)
    warp = sub.add_parser("warp", help="move the chain's clock forward and mine a block")
    warp.add_argument("--seconds", type=int, required=True)
    args = parser.parse_args(argv)
    w3 = Web3(Web3.HTTPProvider(args.rpc, request_kwargs={"timeout": 10}))
    if w3.eth.chain_id != 31337:
        parser.error(f"{args.rpc} is chain {w3.eth.chain_id}, not a local anvil (31337)")
    if args.command == "deploy":
        system = deploy_system(w3, markets=args.markets)
        print(f"CircuitBreaker {system.breaker.address}; keeper {system.keepers[0]} (anvil account 1)")
        if args.write:
            Path(args.write).write_text(
                yaml.safe_dump(
                    {
                        "breaker": system.breaker.address,
                        "chain_id": 31337,
                        "rpc_urls": [args.rpc],
                        "markets": [
                            {"id": m.market_id, "name": f"demo-{m.market_id}"} for m in system.markets
                        ],
                    },
                    sort_keys=False,
                )
            )
            print(f"keeper config written to {args.write}")
        print(
            f"anvil's well-known dev key for account 1 (local only): export KEEPER_PRIVATE_KEY={dev_key(1)}"
        )
        return 0
    if args.command == "warp":
        json_rpc(w3, "evm_increaseTime", [args.seconds])
        json_rpc(w3, "evm_mine", [])
        print(f"block {w3.eth.block_number} at {w3.eth.get_block('latest')['timestamp']}")
        return 0
    breaker = w3.eth.contract(Web3.to_checksum_address(args.breaker), abi=abi.load_abi("CircuitBreaker"))
    venue_address = breaker.functions.markets(args.market).call()[0]
    venue = w3.eth.contract(venue_address, abi=abi.load_abi("MockVenue"))
    price, depth = (0.90, 0.10) if args.command == "crash" else (1.0, 1.0)
    accounts: Sequence[ChecksumAddress] = w3.eth.accounts
    sender = accounts[2]
    transact(w3, venue.functions.set_price(int(price * WAD)), sender)
    transact(w3, venue.functions.set_depth(int(CALM_DEPTH * depth)), sender)
    print(f"market {args.market}: venue at {price} with {depth:.0%} of calm depth")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
