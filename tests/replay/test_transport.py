"""The keeper's replay transport answers its per-block reads from the engine's batch, and only those."""

from __future__ import annotations

from web3 import Web3

from devchain import Anvil
from devchain.loopback import keep_alive
from replay.transport import PrefetchingProvider


def _prefetch(anvil: Anvil, provider: PrefetchingProvider) -> None:
    """What the engine does after mining: asks the node what the keeper asked, and stores the answers."""
    head = anvil.w3.eth.block_number
    asked = provider.requests_for(head)
    answers = [anvil.rpc(method, params) for method, params in asked]
    provider.answer(head, asked, answers)


def test_prefetch__the_keeper_s_balance_is_answered_from_the_batch_until_it_sends():
    with Anvil() as anvil:
        provider = keep_alive(PrefetchingProvider(anvil.url, request_kwargs={"timeout": 10}))
        keeper = Web3(provider)
        me, other = anvil.w3.eth.accounts[:2]
        first = keeper.eth.get_balance(me)
        assert provider.misses == 1
        _prefetch(anvil, provider)
        assert keeper.eth.get_balance(me) == first
        assert (provider.hits, provider.misses) == (1, 1)
        keeper.eth.send_transaction({"from": me, "to": other, "value": 10**18})  # automine: a new head
        after = keeper.eth.get_balance(me)
        assert after <= first - 10**18  # asked of the node again, not the stored answer
        assert provider.sends == 1
