"""Python side of the circuit breaker: parameters, deployment, and (later) the keeper bot."""
