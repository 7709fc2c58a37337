"""Every OCPP 2.0.1 handler module; importing this package registers them all."""

from .. import (  # the modules of answer appliers register them
    customer_answers,  # noqa: F401
    display_answers,  # noqa: F401
    local_list_answers,  # noqa: F401
    monitoring_answers,  # noqa: F401
    provisioning_answers,  # noqa: F401
    reservation_answers,  # noqa: F401
    security_answers,  # noqa: F401  (wraps provisioning_answers' SetVariables applier)
    smart_charging_answers,  # noqa: F401
)
from . import (
    authorization,  # noqa: F401
    certificates,  # noqa: F401
    customer,  # noqa: F401
    data_transfer,  # noqa: F401
    diagnostics,  # noqa: F401
    display,  # noqa: F401
    firmware,  # noqa: F401
    iso15118,  # noqa: F401
    meter_values,  # noqa: F401
    monitoring,  # noqa: F401
    provisioning,  # noqa: F401
    reports,  # noqa: F401
    reservations,  # noqa: F401
    security,  # noqa: F401
    smart_charging,  # noqa: F401
    status,  # noqa: F401
    transactions,  # noqa: F401
)
