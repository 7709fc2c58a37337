"""Every OCPP 2.0.1 handler module; importing this package registers them all."""

from . import provisioning  # noqa: F401
