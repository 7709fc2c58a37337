"""What the answer to an OCPP 2.0.1 CustomerInformation records (registered in actions_201)."""

from __future__ import annotations

from devicemodel import services

from ..commands.actions_201 import applies_answer


def _customer(request: dict) -> str:
    """Whom it is about, as an operator reads it (a certificate by its serial number)."""
    if request.get("customerIdentifier"):
        return request["customerIdentifier"]
    if request.get("idToken"):
        return request["idToken"]["idToken"]
    certificate = request.get("customerCertificate")
    return f"certificate {certificate['serialNumber']}" if certificate else ""


@applies_answer("CustomerInformation")
def customer_information_answered(*, charge_point_pk: int, request: dict, response: dict) -> None:
    services.customer_information_requested(
        charge_point_pk=charge_point_pk,
        request_id=request["requestId"],
        report=request["report"],
        clear=request["clear"],
        customer=_customer(request),
        status=response["status"],
    )
