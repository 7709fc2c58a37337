"""The CALLERROR classes carry the OCPP-J 1.6 wire codes, not the `ocpp` package's 2.0.1 ones."""

from __future__ import annotations

import json

import pytest
from ocpp import exceptions as ocpp_exc

from ocpp_consumer import errors, framing

OCPP_J_16_CODES = {
    "NotImplemented",
    "NotSupported",
    "InternalError",
    "ProtocolError",
    "SecurityError",
    "FormationViolation",
    "PropertyConstraintViolation",
    "OccurenceConstraintViolation",
    "TypeConstraintViolation",
    "GenericError",
}


@pytest.mark.parametrize(
    ("error_class", "code", "ocpp_base"),
    [
        (errors.NotImplementedError, "NotImplemented", ocpp_exc.NotImplementedError),
        (errors.NotSupportedError, "NotSupported", ocpp_exc.NotSupportedError),
        (errors.InternalError, "InternalError", ocpp_exc.InternalError),
        (errors.ProtocolError, "ProtocolError", ocpp_exc.ProtocolError),
        (errors.SecurityError, "SecurityError", ocpp_exc.SecurityError),
        (errors.FormationViolationError, "FormationViolation", ocpp_exc.FormationViolationError),
        (
            errors.PropertyConstraintViolationError,
            "PropertyConstraintViolation",
            ocpp_exc.PropertyConstraintViolationError,
        ),
        (
            errors.OccurenceConstraintViolationError,
            "OccurenceConstraintViolation",
            ocpp_exc.OccurenceConstraintViolationError,
        ),
        (
            errors.TypeConstraintViolationError,
            "TypeConstraintViolation",
            ocpp_exc.TypeConstraintViolationError,
        ),
        (errors.GenericError, "GenericError", ocpp_exc.GenericError),
    ],
)
def test_error_class_carries_16_code(error_class, code, ocpp_base):
    assert error_class.code == code
    assert error_class("why").code == code
    assert issubclass(error_class, ocpp_base) and issubclass(error_class, errors.OCPPError)
    frame = json.loads(framing.call_error_frame("id", error_class("why")))
    assert frame == [4, "id", code, "why", {}]


def test_call_error_codes_are_exactly_the_ten_16_codes():
    assert errors.CALL_ERROR_CODES == OCPP_J_16_CODES
    assert len(errors.CALL_ERROR_CODES) == 10


@pytest.mark.parametrize("spelling_201", ["FormatViolation", "OccurrenceConstraintViolation"])
def test_201_spellings_are_never_emitted(spelling_201):
    assert spelling_201 not in errors.CALL_ERROR_CODES
    defined_here = [
        cls
        for cls in vars(errors).values()
        if isinstance(cls, type)
        and issubclass(cls, errors.OCPPError)
        and cls.__module__ == errors.__name__
    ]
    assert len(defined_here) == 10
    emitted = {cls.code for cls in defined_here}
    assert emitted == errors.CALL_ERROR_CODES
    assert spelling_201 not in emitted


def test_ocpp_package_spellings_differ_where_we_override():
    # Why the overrides exist: the package's obvious names give the 2.0.1 codes.
    assert ocpp_exc.FormatViolationError.code == "FormatViolation"
    assert ocpp_exc.OccurrenceConstraintViolationError.code == "OccurrenceConstraintViolation"


def test_not_implemented_and_not_supported_descriptions_are_not_swapped():
    # 1.6: NotImplemented = action not known; NotSupported = known but not supported.
    assert "not known" in errors.NotImplementedError().description
    assert "not supported" in errors.NotSupportedError().description
    assert "recognized" in errors.NotSupportedError().description


def test_schema_failures_raise_16_codes():
    with pytest.raises(errors.OCPPError) as caught:
        framing.validate_call(framing.Call("id", "Heartbeat", {"x": 1}))
    assert caught.value.code == "OccurenceConstraintViolation"
    with pytest.raises(framing.BadCall) as bad:
        framing.parse_frame('[2,"id","Heartbeat",[]]')
    assert bad.value.error.code == "FormationViolation"
