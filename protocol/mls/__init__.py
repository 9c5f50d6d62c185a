"""MLS, RFC 9420: one module per noun of the RFC.

The application-facing API is :class:`~.group.Group` with
:class:`~.key_package_bundle.KeyPackageBundle`; it is re-exported from
:mod:`cove.protocol`.
"""
