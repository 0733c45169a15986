"""ReferenceOracle.set_max_spread_bps: governance only, bounded, logged with the actor."""

import ape


def test_deploy__default_spread_logged(project, deployer):
    oracle = project.ReferenceOracle.deploy(1, sender=deployer)
    assert oracle.max_spread_bps() == oracle.DEFAULT_SPREAD_BPS() == 1_000
    receipt = ape.chain.get_receipt(oracle.txn_hash)
    assert receipt.decode_logs(oracle.MaxSpreadSet) == [oracle.MaxSpreadSet(actor=deployer, old=0, new=1_000)]


def test_set_max_spread_bps__logs_actor_old_and_new(create_oracle, governance):
    oracle = create_oracle()
    receipt = oracle.set_max_spread_bps(250, sender=governance)
    assert receipt.events == [oracle.MaxSpreadSet(actor=governance, old=1_000, new=250)]
    assert oracle.max_spread_bps() == 250


def test_set_max_spread_bps__bounds_accepted(create_oracle, governance):
    oracle = create_oracle()
    for value in (oracle.MIN_SPREAD_BPS(), oracle.MAX_SPREAD_BPS()):
        oracle.set_max_spread_bps(value, sender=governance)
        assert oracle.max_spread_bps() == value


def test_set_max_spread_bps__out_of_bounds_reverts(create_oracle, governance):
    oracle = create_oracle()
    for value in (0, oracle.MIN_SPREAD_BPS() - 1, oracle.MAX_SPREAD_BPS() + 1):
        with ape.reverts("ReferenceOracle: max spread out of bounds"):
            oracle.set_max_spread_bps(value, sender=governance)


def test_set_max_spread_bps__not_owner_reverts(create_oracle, anyone):
    oracle = create_oracle()
    with ape.reverts("ownable: caller is not the owner"):
        oracle.set_max_spread_bps(200, sender=anyone)
