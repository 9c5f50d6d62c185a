"""Whether the tests run under CI (``CI`` set to 1, true or yes, as CI services and
``.ci/run`` set it): the one place that reads it. Under CI the property tests run
more examples, a missing vector file fails collection and the coverage floor holds."""

from __future__ import annotations

import os


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


IN_CI = in_ci()
