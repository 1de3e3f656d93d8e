"""Accounts: registration, sign-in, password resets, roles, and the hub's view of a person."""
