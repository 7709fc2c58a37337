"""OCPP-J 1.6 CALLERROR codes (section 4.2.3) as exceptions.

The `ocpp` package carries these classes, but some of its codes are the 2.0.1
spellings (`FormatViolation`, `OccurrenceConstraintViolation`) and its
NotImplemented/NotSupported descriptions are swapped. These subclasses pin the
1.6 wire names and meanings; `ocpp_consumer.tests.test_errors` checks them.
"""

from ocpp import exceptions as ocpp_exc


class NotImplementedError(ocpp_exc.NotImplementedError):  # noqa: A001
    code = "NotImplemented"
    default_description = "Requested Action is not known by receiver"


class NotSupportedError(ocpp_exc.NotSupportedError):
    code = "NotSupported"
    default_description = "Requested Action is recognized but not supported by the receiver"


class InternalError(ocpp_exc.InternalError):
    code = "InternalError"


class ProtocolError(ocpp_exc.ProtocolError):
    code = "ProtocolError"


class SecurityError(ocpp_exc.SecurityError):
    code = "SecurityError"


class FormationViolationError(ocpp_exc.FormationViolationError):
    code = "FormationViolation"


class PropertyConstraintViolationError(ocpp_exc.PropertyConstraintViolationError):
    code = "PropertyConstraintViolation"


class OccurenceConstraintViolationError(ocpp_exc.OccurenceConstraintViolationError):
    code = "OccurenceConstraintViolation"


class TypeConstraintViolationError(ocpp_exc.TypeConstraintViolationError):
    code = "TypeConstraintViolation"


class GenericError(ocpp_exc.GenericError):
    code = "GenericError"


OCPPError = ocpp_exc.OCPPError

# Every code a CALLERROR may carry in OCPP-J 1.6.
CALL_ERROR_CODES = frozenset(
    cls.code
    for cls in (
        NotImplementedError,
        NotSupportedError,
        InternalError,
        ProtocolError,
        SecurityError,
        FormationViolationError,
        PropertyConstraintViolationError,
        OccurenceConstraintViolationError,
        TypeConstraintViolationError,
        GenericError,
    )
)
