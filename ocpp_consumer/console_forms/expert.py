"""Expert mode: any command of the charge point's version as raw OCPP JSON."""

from django import forms
from django.utils.translation import gettext_lazy as _

from ..framing import V16
from .groups import grouped_action_choices


class CommandForm(forms.Form):
    """Any command of the charge point's OCPP version; sending checks it against its schema."""

    action = forms.ChoiceField(label=_("action"))
    payload = forms.JSONField(
        label=_("payload (OCPP JSON)"),
        initial=dict,
        required=False,
        widget=forms.Textarea(attrs={"rows": 12, "cols": 80, "class": "vLargeTextField"}),
    )

    def __init__(self, *args, version: str = V16, **kwargs):
        super().__init__(*args, **kwargs)
        # Only the version's actions: another version's action is not offered at all.
        self.fields["action"].choices = grouped_action_choices(version)

    def clean(self):
        """Only the payload's shape: sending validates it (the view shows its error here)."""
        cleaned = super().clean()
        payload = cleaned.get("payload")
        if payload is None:
            payload = cleaned["payload"] = {}
        if not isinstance(payload, dict):
            self.add_error("payload", _("The payload must be a JSON object."))
        return cleaned
