"""Agents: baseline memory managers and loaders of trained policies."""
