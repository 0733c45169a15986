"""Governance's deployment: the deploy config, the contracts it deploys and wires, and reports of what is
deployed."""
