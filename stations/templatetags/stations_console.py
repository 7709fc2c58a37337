"""Template tags of the operator console's front page."""

from django import template

from ..admin.registration import awaiting_banner

register = template.Library()


@register.simple_tag
def charge_points_awaiting_acceptance() -> str:
    """A link to the charge points waiting for an operator; "" when none waits."""
    return awaiting_banner()
