"""Rewards: QA metrics, readers that answer from memory, and the weighted reward terms."""
