"""Property (stateful) tests: hypothesis state machines over the contracts."""
