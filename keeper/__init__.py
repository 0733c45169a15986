"""The Python side of the circuit breaker: parameters, deployment, reports, and the keeper bot
(sources -> indicators -> policy -> executor, with its CLI and metrics)."""
