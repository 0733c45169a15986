"""A collateral token that calls back on transfer cannot re-enter the reopening auction: posting
(escrow in) and cancelling (refund out) complete while the hook's call back into the auction is refused
by the lock every state-changing function holds."""

import pytest
from eth_abi import encode
from eth_utils import function_signature_to_4byte_selector

from deployment.auction import deploy_auction
from deployment.pool import deploy_pool
from tests.unit.auction.conftest import COL, MAX, PRICE, SEED_COL, wad


def calldata(signature: str, *args) -> bytes:
    types = signature[signature.index("(") + 1 : -1]
    encoded = encode(types.split(","), list(args)) if types else b""
    return function_signature_to_4byte_selector(signature) + encoded


# Each would revert with a "ReopeningAuction: ..." reason if it got past the lock.
REENTRIES = {
    "post_order": calldata("post_order(bool,uint256,uint256)", False, 0, COL),
    "cancel_order": calldata("cancel_order(uint256)", 10**6),
    "claim": calldata("claim(uint256)", 10**6),
    "settle": calldata("settle(uint256)", 0),
    "add_dlp": calldata("add_dlp(address)", "0x" + "00" * 20),
}


@pytest.fixture
def hooked(project, deployer, breaker, auction_oracle, governance, guardian, seller):
    """A pool whose collateral is the calling-back token, its auction, and its market in COOLDOWN."""
    token = project.ReentrantToken.deploy(18, sender=deployer)
    deployed = deploy_pool(
        project,
        deployer,
        breaker,
        None,
        auction_oracle,
        governance=governance,
        collateral=token,
        liquidity_collateral=SEED_COL,
        price=PRICE,
    )
    auction = deploy_auction(project, deployer, deployed.pool, breaker, governance=governance).auction
    token.mint(seller, 100 * COL, sender=deployer)
    token.approve(auction, MAX, sender=seller)
    breaker.guardian_trip(deployed.market_id, sender=guardian)
    breaker.force_resume(deployed.market_id, sender=governance)
    return token, auction


def _locked(token) -> bool:
    return token.hook_fired() == 1 and not token.hook_succeeded() and token.hook_returndata() == b""


@pytest.mark.parametrize("entry", sorted(REENTRIES))
@pytest.mark.threat
def test_post_order__token_reentry_refused(hooked, seller, deployer, entry):
    token, auction = hooked
    token.arm(auction, REENTRIES[entry], sender=deployer)
    auction.post_order(False, wad(2_000), COL, sender=seller)
    assert _locked(token)
    assert auction.book_size() == 1 and token.balanceOf(auction) == COL


@pytest.mark.parametrize("entry", sorted(REENTRIES))
@pytest.mark.threat
def test_cancel_order__token_reentry_refused(hooked, seller, deployer, entry):
    token, auction = hooked
    order = auction.post_order(False, wad(2_000), COL, sender=seller).return_value
    token.arm(auction, REENTRIES[entry], sender=deployer)
    auction.cancel_order(order, sender=seller)
    assert _locked(token)
    assert token.balanceOf(auction) == 0 and token.balanceOf(seller) == 100 * COL


def test_hook__outside_an_auction_call_reaches_the_auction(hooked, seller, deployer):
    """Control: the same hook fired by a plain transfer gets the auction's own reason, not the lock's."""
    token, auction = hooked
    token.arm(auction, REENTRIES["cancel_order"], sender=deployer)
    token.transfer(deployer, 1, sender=seller)
    assert token.hook_fired() == 1 and not token.hook_succeeded()
    assert b"ReopeningAuction: unknown order" in token.hook_returndata()
