"""The keeper bot: sources -> indicators -> policy -> executor, with its CLI, metrics and shipped
parameters."""
