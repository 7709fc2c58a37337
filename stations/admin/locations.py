"""Console pieces for a station's location data (what the map and roaming show).

Station.clean() checks the JSON-held parts; its messages land on the field
that is wrong.
"""

from django import forms
from django.contrib.admin.utils import flatten_fieldsets
from django.utils.translation import gettext_lazy as _

from ..models import Station
from ..models.location_data import Facility

STATION_FIELDSETS = (
    (
        None,
        {
            "fields": (
                "name",
                "address",
                "city",
                "postal_code",
                "country",
                ("latitude", "longitude"),
                "time_zone",
                "created_at",
            )
        },
    ),
    (
        _("Map and roaming"),
        {
            "fields": (
                "publish",
                "opening_times",
                "charging_when_closed",
                "parking_type",
                "facilities",
                "directions",
                "images",
            ),
            "description": _(
                "What drivers see on the map and what roaming partners receive (OCPI Locations)."
            ),
        },
    ),
    (
        _("Operator"),
        {
            "fields": (
                "operator_name",
                "operator_website",
                "operator_phone",
                "operator_email",
                ("party_country_code", "party_id"),
            )
        },
    ),
)


class StationForm(forms.ModelForm):
    """Facilities as tick boxes; opening times and images as JSON with their help text."""

    facilities = forms.MultipleChoiceField(
        label=_("facilities"),
        choices=Facility.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("What the site is part of or close to (OCPI facilities)."),
    )

    operator_website = forms.URLField(
        label=_("operator website"),
        required=False,
        max_length=200,
        assume_scheme="https",  # "example.com" means https://example.com
    )

    class Meta:
        model = Station
        fields = [name for name in flatten_fieldsets(STATION_FIELDSETS) if name != "created_at"]
        widgets = {
            "opening_times": forms.Textarea(attrs={"rows": 8, "cols": 80}),
            "images": forms.Textarea(attrs={"rows": 4, "cols": 80}),
            "directions": forms.Textarea(attrs={"rows": 2, "cols": 80}),
        }


CONNECTOR_PLUG_FIELDS = (
    "standard",
    "format",
    "power_type",
    "max_voltage",
    "max_amperage",
    "max_power_w",
    "evse_id",
)
