"""Optimizer wrappers, the BOCB parameter-group constructor and hooks."""
