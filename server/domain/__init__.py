"""The relay's rules: who may do what, commit ordering, KeyPackage claims, fan-out.

Naming after Zulip: ``access_*`` fetches and authorizes (raises if not allowed),
``check_*`` validates, ``do_*`` writes; a helper that needs an open storage
transaction ends in ``_txn`` and takes it first.
"""
