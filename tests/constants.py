"""The breaker's state flags and the zero address, as the tests name them (one home: every test
imports them from here).

The values are the Vyper `flag State` of contracts/interfaces/ICircuitBreaker.vyi, in declaration order
(1, 2, 4, 8); keeper/model.py's `State` mirrors the same values for the bot, and the consumers'
contracts/modules/breaker_states.vy for the contracts. The state tests compare them with what the contract
returns (`state(id)`, `status(id)`), so a reordered flag fails them.
"""

NORMAL, HALTED, COOLDOWN, AUCTION = 1, 2, 4, 8
ZERO_ADDRESS = "0x" + "00" * 20
