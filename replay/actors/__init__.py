"""The replay's actors, the same code in every world: what each one trades, decided from prices alone.

`markets` prices the two markets they trade (the modelled pool and the external market), `liquidator`
and `arbitrageur` size their trades, `watchers` are the baselines' trip decisions. The engine sends
the transactions.
"""
