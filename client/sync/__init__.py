"""Sync: a sans-I/O engine (:mod:`.engine`) and the runner in :mod:`cove.client.service`."""
