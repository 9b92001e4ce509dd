"""Paging the responsible officials: roster, routing, digests, working hours, escalation, delivery."""
