"""Tests of the audit commands: bounded reading, replay, diff, timelines."""
