"""Retry toolkit: backoff, deadlines, circuit breaker, and the `wait` checks."""
