"""Automation: the one daemon loop and its tick sources (deployment schedules first; sensors,
backfills, conditions, alerts and retention plug in the same way)."""
