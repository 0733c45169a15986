# SPDX-License-Identifier: AGPL-3.0-only
# pragma version ~=0.4.3
"""
@title ERC-20 that calls back on transfer
@custom:contract-name ReentrantToken
@notice A minimal ERC-20 whose `transfer` and `transferFrom` make one armed call to a target
        before moving funds (an ERC-777-style hook, or a malicious token). The call's
        success and revert data are recorded instead of bubbling up, so a test can check
        that the target refused the reentry while the outer operation went on.
"""

from ethereum.ercs import IERC20

implements: IERC20

# @dev Largest calldata / returndata the hook keeps.
MAX_CALL: constant(uint256) = 1_024

decimals: public(uint8)
totalSupply: public(uint256)
balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
# @dev The armed call (cleared when it fires, so it fires once).
hook_target: public(address)
hook_calldata: public(Bytes[MAX_CALL])
# @dev What the last fired call did.
hook_fired: public(uint256)
hook_succeeded: public(bool)
hook_returndata: public(Bytes[MAX_CALL])


@deploy
def __init__(decimals_: uint8):
    self.decimals = decimals_


@external
def mint(to: address, amount: uint256):
    self.balanceOf[to] += amount
    self.totalSupply += amount
    log IERC20.Transfer(sender=empty(address), receiver=to, value=amount)


@external
def arm(target: address, calldata: Bytes[MAX_CALL]):
    """
    @notice The next transfer calls `target` with `calldata` once.
    """
    self.hook_target = target
    self.hook_calldata = calldata


@external
def approve(spender: address, amount: uint256) -> bool:
    self.allowance[msg.sender][spender] = amount
    log IERC20.Approval(owner=msg.sender, spender=spender, value=amount)
    return True


@external
def transfer(receiver: address, amount: uint256) -> bool:
    self._hook()
    self._move(msg.sender, receiver, amount)
    return True


@external
def transferFrom(sender: address, receiver: address, amount: uint256) -> bool:
    self._hook()
    allowed: uint256 = self.allowance[sender][msg.sender]
    if allowed != max_value(uint256):
        self.allowance[sender][msg.sender] = allowed - amount
    self._move(sender, receiver, amount)
    return True


@internal
def _move(sender: address, receiver: address, amount: uint256):
    self.balanceOf[sender] -= amount
    self.balanceOf[receiver] += amount
    log IERC20.Transfer(sender=sender, receiver=receiver, value=amount)


@internal
def _hook():
    target: address = self.hook_target
    if target == empty(address):
        return
    self.hook_target = empty(address)
    ok: bool = False
    data: Bytes[MAX_CALL] = b""
    ok, data = raw_call(target, self.hook_calldata, max_outsize=MAX_CALL, revert_on_failure=False)
    self.hook_fired += 1
    self.hook_succeeded = ok
    self.hook_returndata = data
