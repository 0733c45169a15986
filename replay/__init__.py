"""Replay engine: drives the real contracts on anvil through a scenario (SCENARIOS.md)."""
