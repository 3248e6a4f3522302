"""Use cases: what the functions and the operator's tool call."""
