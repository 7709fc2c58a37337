"""Every OCPP 2.0.1 handler module; importing this package registers them all."""

from .. import provisioning_answers  # noqa: F401  (registers the answer appliers)
from . import (
    authorization,  # noqa: F401
    data_transfer,  # noqa: F401
    diagnostics,  # noqa: F401
    firmware,  # noqa: F401
    meter_values,  # noqa: F401
    provisioning,  # noqa: F401
    reports,  # noqa: F401
    security,  # noqa: F401
    status,  # noqa: F401
    transactions,  # noqa: F401
)
