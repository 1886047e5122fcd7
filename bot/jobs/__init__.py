"""Periodic work: every job the process runs on a timer is registered in ``catalogue`` and run by
``runner.JobRunner``, one at a time per job, awaited within a bound on shutdown, counted for /metrics."""
