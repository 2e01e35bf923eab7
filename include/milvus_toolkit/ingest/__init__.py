"""Ingest: load, split, stage, write (async, fanned out), validate, report."""
