"""The console's command forms: typed (from the OCPP schemas) and expert (raw JSON).

- schema.py: a request schema as a tree of fields;
- fields.py: the widget of each field (connector and id tag pickers, enums, dates);
- typed.py: the typed form, validated as `command_send` validates;
- expert.py: the raw JSON form;
- groups.py: the actions in the groups an operator looks for;
- examples.py: a valid starting payload per action.
"""

from .examples import example_payloads
from .expert import CommandForm
from .fields import IDTAG_DATALIST, SESSION_DATALIST, CommandContext
from .groups import GROUP_LABELS, action_group, grouped_action_choices
from .typed import TypedCommandForm

__all__ = [
    "GROUP_LABELS",
    "IDTAG_DATALIST",
    "SESSION_DATALIST",
    "CommandContext",
    "CommandForm",
    "TypedCommandForm",
    "action_group",
    "example_payloads",
    "grouped_action_choices",
]
