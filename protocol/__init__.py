"""Cove's protocol layer: pure, sans-I/O MLS (RFC 9420), wire envelopes and app content.

Nothing here opens a file or socket, reads the clock or draws randomness on its
own: time comes in as arguments and randomness through an injected provider.
"""
