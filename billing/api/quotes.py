"""Price before charging: `GET charge-points/{id}/connectors/{connector_id}/quote/`.

What a session started now at that connector would cost this caller:
billing.quotes does the work; this module reads the query, decides whose
tariff (a visitor: the public one; a driver: their own tag's; an operator:
any tag's) and shapes the answer.
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from api_support.permissions import AnonymousMapAllowed, is_operator
from api_support.schema import THROTTLED, error, invalid
from api_support.views import ApiViewMixin

from ..pricing import PricingError
from ..quotes import Quote, QuoteTagError, quote_location, quote_tags, tariff_quote

# Bounds of an estimate: a week of charging, 10 MWh (larger is a typo).
MAX_MINUTES = 7 * 24 * 60
MAX_ENERGY_WH = 10_000_000


class PricesUnavailable(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _(
        "The prices of this charge point cannot be worked out until the operator fixes "
        "its configuration."
    )
    default_code = "prices_unavailable"


class QuoteQuerySerializer(serializers.Serializer):
    energy_wh = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_ENERGY_WH,
        help_text="Energy to estimate for, in Wh.",
    )
    minutes = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_MINUTES,
        help_text="Minutes plugged in (and charging) to estimate for.",
    )
    id_tag = serializers.CharField(
        required=False,
        max_length=36,
        help_text="Drivers: quote for this one of their id tags. Operators: for any tag.",
    )


class QuoteTariffSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


def _decimal(help_text: str) -> serializers.DecimalField:
    # As computed: two places for euros, none for yen, four for unit prices.
    return serializers.DecimalField(
        max_digits=None, decimal_places=None, read_only=True, help_text=help_text
    )


class QuoteComponentSerializer(serializers.Serializer):
    component = serializers.ChoiceField(
        choices=["energy", "time", "idle", "session_fee", "minimum", "maximum"],
        help_text="energy (per kWh), time (per minute of charging), idle (per minute "
        "plugged in after charging ended, after the grace minutes), session_fee (per "
        "session), minimum / maximum (the net total of a session is raised / capped to it).",
    )
    price = _decimal("Net price per unit.")
    unit = serializers.ChoiceField(choices=["kWh", "min", "session"])
    grace_minutes = serializers.IntegerField(
        allow_null=True, help_text="idle: minutes free before the idle fee starts."
    )
    power_threshold_w = serializers.IntegerField(
        allow_null=True,
        help_text="idle: charging has ended once the power stays at or below this.",
    )


class QuoteWindowSerializer(serializers.Serializer):
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    period = serializers.CharField(
        allow_null=True,
        help_text="The time-of-day period (local 'HH:MM-HH:MM'); null: the tariff's own prices.",
    )
    price_per_kwh = _decimal("Net price per kWh in this window.")
    price_per_minute = _decimal("Net price per minute of charging in this window.")


class QuoteLineSerializer(serializers.Serializer):
    component = serializers.CharField()
    description = serializers.CharField()
    quantity = _decimal("kWh, minutes or 1 (session).")
    unit = serializers.CharField()
    unit_price = _decimal("Net price per unit.")
    amount = _decimal("Net amount.")


class QuoteEstimateSerializer(serializers.Serializer):
    energy_wh = serializers.IntegerField()
    minutes = serializers.IntegerField()
    net = _decimal("Net total.")
    vat = _decimal("VAT.")
    total = _decimal("Total with VAT.")
    lines = QuoteLineSerializer(many=True, help_text="The invoice lines it would have.")


class QuoteSerializer(serializers.Serializer):
    tariff = QuoteTariffSerializer(
        allow_null=True,
        help_text="The tariff a session started now would have; null: none applies (the "
        "operator has set no price: such a session is not invoiced).",
    )
    currency = serializers.CharField(allow_null=True)
    components = QuoteComponentSerializer(many=True)
    periods = QuoteWindowSerializer(
        many=True,
        help_text="The prices of the next 24 hours, one entry per stretch with the same "
        "prices (cut at the station's local time-of-day periods, clock changes included).",
    )
    vat_rate = _decimal("VAT in percent, added to the net prices.")
    estimate = QuoteEstimateSerializer(
        allow_null=True,
        help_text="The cost of a session started now with `energy_wh` over `minutes` (each "
        "0 when not given: then the fixed part, such as a session fee), as its invoice "
        "would price it; null only when no tariff applies.",
    )
    id_tag = serializers.CharField(
        allow_null=True,
        help_text="The id tag quoted for (start with it to get these prices); null: the "
        "public tariff.",
    )
    time_zone = serializers.CharField(help_text="The station's time zone (of the periods).")
    quoted_at = serializers.DateTimeField(help_text="The moment the quote is for (now).")


def quote_data(quote: Quote) -> dict:
    """The answer's shape (QuoteSerializer) of a quote."""
    terms = quote.terms
    estimate = None
    if quote.estimate is not None:
        bill = quote.estimate.bill
        estimate = {
            "energy_wh": quote.estimate.energy_wh,
            "minutes": quote.estimate.minutes,
            "net": bill.net,
            "vat": bill.vat,
            "total": bill.total,
            "lines": [
                {
                    "component": str(line.component),
                    "description": line.description,
                    "quantity": line.quantity,
                    "unit": line.unit,
                    "unit_price": line.unit_price,
                    "amount": line.amount,
                }
                for line in bill.lines
            ],
        }
    return {
        "tariff": None
        if quote.tariff_id is None
        else {"id": quote.tariff_id, "name": quote.tariff_name},
        "currency": None if terms is None else terms.currency,
        "components": [
            {
                "component": str(item.component),
                "price": item.price,
                "unit": item.unit,
                "grace_minutes": item.grace_minutes,
                "power_threshold_w": item.power_threshold_w,
            }
            for item in quote.components
        ],
        "periods": [
            {
                "start": window.start,
                "end": window.end,
                "period": window.period,
                "price_per_kwh": window.price_per_kwh,
                "price_per_minute": window.price_per_minute,
            }
            for window in quote.windows
        ],
        "vat_rate": None if terms is None else terms.vat_rate,
        "estimate": estimate,
        "id_tag": quote.id_tag,
        "time_zone": quote.time_zone,
        "quoted_at": quote.at,
    }


QUOTE_EXAMPLE = {
    "tariff": {"id": 12, "name": "City night saver"},
    "currency": "EUR",
    "components": [
        {
            "component": "energy",
            "price": "0.3900",
            "unit": "kWh",
            "grace_minutes": None,
            "power_threshold_w": None,
        },
        {
            "component": "idle",
            "price": "0.1000",
            "unit": "min",
            "grace_minutes": 30,
            "power_threshold_w": 100,
        },
        {
            "component": "session_fee",
            "price": "0.50",
            "unit": "session",
            "grace_minutes": None,
            "power_threshold_w": None,
        },
    ],
    "periods": [
        {
            "start": "2026-11-26T17:30:00Z",
            "end": "2026-11-26T21:00:00Z",
            "period": None,
            "price_per_kwh": "0.3900",
            "price_per_minute": "0.0000",
        },
        {
            "start": "2026-11-26T21:00:00Z",
            "end": "2026-11-27T05:00:00Z",
            "period": "22:00-06:00",
            "price_per_kwh": "0.2500",
            "price_per_minute": "0.0000",
        },
        {
            "start": "2026-11-27T05:00:00Z",
            "end": "2026-11-27T17:30:00Z",
            "period": None,
            "price_per_kwh": "0.3900",
            "price_per_minute": "0.0000",
        },
    ],
    "vat_rate": "21.00",
    "estimate": {
        "energy_wh": 20000,
        "minutes": 60,
        "net": "8.30",
        "vat": "1.74",
        "total": "10.04",
        "lines": [
            {
                "component": "energy",
                "description": "Energy",
                "quantity": "20.0000",
                "unit": "kWh",
                "unit_price": "0.3900",
                "amount": "7.80",
            },
            {
                "component": "session_fee",
                "description": "Session fee",
                "quantity": "1",
                "unit": "session",
                "unit_price": "0.50",
                "amount": "0.50",
            },
        ],
    },
    "id_tag": None,
    "time_zone": "Europe/Amsterdam",
    "quoted_at": "2026-11-26T17:30:00Z",
}


class ChargePointQuoteView(ApiViewMixin, APIView):
    # Visitors as on the map (API_ANONYMOUS_MAP); anyone signed in.
    permission_classes = [AnonymousMapAllowed | IsAuthenticated]

    @extend_schema(
        operation_id="charge_point_connector_quote",
        tags=["prices"],
        summary="Price before charging",
        description=(
            "What a session started now at this connector would cost the caller: the tariff "
            "it would have fixed at its start (the same choice a start makes), its price "
            "components, the prices of the next 24 hours by time of day in the station's time "
            "zone, the VAT rate and an estimate for `energy_wh` over `minutes` (0 when not "
            "given) priced "
            "exactly as the invoice of such a session would be (the energy spread evenly, "
            "charging all the while: no idle fee). A visitor (no token) gets the public "
            "tariff, what an id tag without a customer group gets; a driver gets the tariff "
            "of their own id tag (`id_tag`, else the one of their usable tags whose tariff "
            "is most specific, named in the answer); an operator any tag's. Unknown charge "
            "points and connectors, and for drivers and visitors charge points not in "
            "service, are 404."
        ),
        auth=[{"tokenAuth": []}, {}],
        parameters=[
            OpenApiParameter("energy_wh", OpenApiTypes.INT, description="Energy to estimate, Wh."),
            OpenApiParameter("minutes", OpenApiTypes.INT, description="Duration to estimate."),
            OpenApiParameter(
                "id_tag",
                OpenApiTypes.STR,
                description="Drivers: one of their id tags. Operators: any. Not for visitors.",
            ),
        ],
        responses={
            200: OpenApiResponse(
                QuoteSerializer,
                description="The quote",
                examples=[OpenApiExample("Night prices ahead", value=QUOTE_EXAMPLE)],
            ),
            400: invalid({"energy_wh": ["Ensure this value is greater than or equal to 0."]}),
            401: error(
                "No token while API_ANONYMOUS_MAP is off",
                "Authentication credentials were not provided.",
            ),
            404: error(
                "No such charge point or connector", "No connector 3 at charge point 'CP-9'."
            ),
            409: error("Prices cannot be worked out", str(PricesUnavailable.default_detail)),
            429: THROTTLED,
        },
    )
    def get(self, request, charge_point_id: str, connector_id: str):
        query = QuoteQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        user = request.user
        signed_in = bool(user and user.is_authenticated)
        operator = is_operator(user)
        id_tag = query.validated_data.get("id_tag")
        if id_tag is not None and not signed_in:
            raise ValidationError({"id_tag": [_("Sign in to ask for the prices of an id tag.")]})
        location = quote_location(
            charge_point_id=charge_point_id,
            connector_id=int(connector_id),
            public_only=not operator,
        )
        if location is None:
            raise NotFound(
                _("No connector %(connector)s at charge point %(charge_point)r.")
                % {"connector": connector_id, "charge_point": charge_point_id}
            )
        now = timezone.now()
        try:
            tags = quote_tags(
                id_tag=id_tag,
                driver_user_id=user.pk if signed_in and not operator else None,
                at=now,
            )
        except QuoteTagError as exc:
            message = _("No such id tag.") if operator else _("Not one of your id tags.")
            raise ValidationError({"id_tag": [message]}) from exc
        try:
            quote = tariff_quote(
                location=location,
                tags=tags,
                at=now,
                energy_wh=query.validated_data.get("energy_wh"),
                minutes=query.validated_data.get("minutes"),
            )
        except PricingError as exc:
            raise PricesUnavailable() from exc
        return Response(QuoteSerializer(quote_data(quote)).data)
