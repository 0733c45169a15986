"""What every section of the deploy config shares: strict models and address fields."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

ZERO_ADDRESS = "0x" + "00" * 20


class StrictModel(BaseModel):
    """A config section: unknown keys are errors, and a parsed section cannot change."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def checksum_address(value: str) -> str:
    """`value` as a checksummed address; ValueError naming it when it is not one."""
    from eth_utils import is_address, to_checksum_address

    if not isinstance(value, str) or not is_address(value):
        raise ValueError(f"not an address: {value!r}")
    return to_checksum_address(value)
