"""Agents: baseline memory managers and the evaluation harness (loading trained policies
lives above, in :mod:`memgym.loading`)."""
