"""The typed command form: one field per schema leaf, checked as the command path checks.

`TypedCommandForm(data, action=..., context=...)` builds its fields from
the request schema of the charge point's OCPP version (schema.py,
fields.py). Cleaning assembles the OCPP payload (camelCase, nested as the
schema nests it; an optional object is sent only when one of its fields is
filled, and then needs its required ones), then runs the very validation
`command_send` runs (`command_validate`): an error the schema or a domain
rule finds is shown on the field it names. `form.payload` is what is sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from ..commands.exceptions import InvalidPayload, UnknownAction
from ..commands.validation import command_validate
from ..framing import V201
from .examples import example_payloads
from .fields import (
    ID_TAG,
    CommandContext,
    OcppDateTimeField,
    humanize,
    leaf_field,
    leaf_role,
    local_now,
)
from .schema import Group, Leaf, request_tree

# Filled by the command path when left out (commands/handles.py: a 2.0.1
# remote start gets the command's own id as remoteStartId). The form leaves
# them optional and validates with a stand-in.
AUTO_FILLED = {(V201, "RequestStartTransaction"): {("remoteStartId",): 0}}
AUTO_FILLED_HELP = _("Leave empty: the command's own number is used.")
# OCPP 2.0.1 IdTokenEnumType: NoAuthorization is the one type with an empty idToken.
NO_AUTHORIZATION = "NoAuthorization"
# Ids the examples hold a 0 for (to be valid JSON), which only the operator knows.
_NAMED_BY_THE_OPERATOR = frozenset({"transactionId", "reservationId"})
# How far ahead a required expiry starts (ReserveNow): an hour from now.
EXPIRY_AHEAD_SECONDS = 3600


@dataclass(frozen=True)
class Section:
    """A fieldset of the page: the request's own fields, or one of its objects."""

    title: str
    optional: bool
    help_text: str
    fields: list  # BoundField
    # An optional object starts folded, unless something in it is filled or wrong.
    open: bool = True


class TypedCommandForm(forms.Form):
    mode = forms.CharField(widget=forms.HiddenInput, initial="typed")
    action = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, data=None, *, action: str, context: CommandContext, **kwargs):
        # Its own ids: the expert form on the same page has an "id_action" too.
        kwargs.setdefault("auto_id", "typed_%s")
        super().__init__(data, initial={"mode": "typed", "action": action}, **kwargs)
        self.action = action
        self.context = context
        self.tree = request_tree(action, context.version)
        self.auto_filled = AUTO_FILLED.get((context.version, action), {})
        self.payload: dict | None = None
        example = example_payloads(context.version).get(action, {})
        self.chain_required: dict[str, bool] = {}
        for leaf, chain_required in _leaves_with_chain(self.tree):
            self.chain_required[leaf.name] = chain_required
            self.fields[leaf.name] = self._field(leaf, chain_required=chain_required)
            initial = _initial(leaf, example, chain_required=chain_required, context=context)
            if initial is not None:
                self.fields[leaf.name].initial = initial

    def _field(self, leaf: Leaf, *, chain_required: bool) -> forms.Field:
        auto = leaf.path in self.auto_filled
        # Django-required only where the form can always demand it: a field of
        # an optional object is required only once that object is given (clean).
        required = chain_required and leaf.required and not auto
        if leaf_role(leaf, self.context.version) == ID_TAG and self.context.version == V201:
            required = False  # NoAuthorization takes an empty idToken: decided in clean
        built = leaf_field(leaf, context=self.context, required=required)
        inner = leaf.path[1:-1]  # within its section (a top-level object)
        if inner:  # "Display › EVSE › Id": where in the object the field sits
            prefix = " › ".join(humanize(part) for part in inner)
            built.label = f"{prefix} › {built.label or humanize(leaf.path[-1])}"
        if auto:
            built.help_text = AUTO_FILLED_HELP
        built.ocpp_path = "/".join(leaf.path)
        built.widget.attrs.setdefault("data-ocpp-path", built.ocpp_path)
        if leaf.required and not required:
            built.widget.attrs["data-required-in-object"] = "1"
        return built

    # --- the page's fieldsets ---------------------------------------------------------

    def sections(self) -> list[Section]:
        own = [self[leaf.name] for leaf in self.tree.children if isinstance(leaf, Leaf)]
        sections = [Section("", False, "", own)] if own else []
        for child in self.tree.children:
            if isinstance(child, Group):
                fields = [self[leaf.name] for leaf in child.leaves()]
                sections.append(
                    Section(
                        title=humanize(child.path[-1]),
                        optional=not child.required,
                        help_text=child.description,
                        fields=fields,
                        open=child.required or any(_shows_something(bound) for bound in fields),
                    )
                )
        return sections

    # --- cleaning -----------------------------------------------------------------------

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("action") not in (None, self.action):
            raise forms.ValidationError(_("The action changed: choose it again."))
        values = {leaf.name: cleaned.get(leaf.name) for leaf in self.tree.leaves()}
        payload, missing = _build(self.tree, values)
        for leaf in missing:
            if leaf.name in self.errors or leaf.path in self.auto_filled:
                continue
            if self._is_id_token(leaf):
                continue  # _check_id_tokens decides
            self.add_error(leaf.name, forms.Field.default_error_messages["required"])
        self._check_id_tokens(payload)
        if self.errors:
            return cleaned
        checked = _with_stand_ins(payload, self.auto_filled)
        try:
            command_validate(action=self.action, payload=checked, version=self.context.version)
        except (InvalidPayload, UnknownAction) as exc:
            self.add_payload_errors(str(exc))
            return cleaned
        self.payload = payload
        return cleaned

    def _is_id_token(self, leaf: Leaf) -> bool:
        return self.context.version == V201 and leaf_role(leaf, V201) == ID_TAG

    def _check_id_tokens(self, payload: dict) -> None:
        """2.0.1: an idToken may be empty only with type NoAuthorization (1.6: always required).

        The idToken object is sent when required or when any of its fields is
        filled; with NoAuthorization, its empty idToken is sent as "".
        """
        for leaf in self.tree.leaves():
            if not self._is_id_token(leaf) or leaf.name in self.errors:
                continue
            token = _get(payload, leaf.path[:-1])
            if not isinstance(token, dict):
                if self.chain_required[leaf.name]:  # a required idToken left empty
                    self.add_error(leaf.name, forms.Field.default_error_messages["required"])
                continue
            if token.get("idToken"):
                continue
            if token.get("type") == NO_AUTHORIZATION:
                token["idToken"] = ""
            else:
                self.add_error(leaf.name, forms.Field.default_error_messages["required"])

    def add_payload_errors(self, description: str) -> None:
        for problem in description.split("; "):
            where, _sep, message = problem.partition(": ")
            target = self._field_for(where, message)
            if target is None:
                self.add_error(None, problem)
            else:
                self.add_error(target, message)

    def _field_for(self, where: str, message: str) -> str | None:
        """The form field a problem's path ("idToken/idToken", "cs_charging_profiles.x") names."""
        parts = [_camel(part) for part in re.split(r"[/.]", where) if part]
        if parts == ["payload"]:
            parts = []
        required = re.match(r"^'([^']+)' is a required property$", message)
        if required:
            parts.append(required.group(1))
        names = {leaf.path: leaf.name for leaf in self.tree.leaves()}
        for end in range(len(parts), 0, -1):
            prefix = tuple(parts[:end])
            if prefix in names:
                return names[prefix]
            below = [name for path, name in names.items() if path[:end] == prefix]
            if below:  # an object: its first field
                return below[0]
        return None


def _shows_something(bound) -> bool:
    return bool(bound.errors) or bound.value() not in (None, "", [])


def _camel(part: str) -> str:
    """snake_case (the domain's problems) to the schema's camelCase; indexes stay."""
    head, *rest = part.split("_")
    return head + "".join(word.capitalize() for word in rest)


def _leaves_with_chain(group: Group, chain_required: bool = True):
    """Each leaf with whether every object above it is required."""
    for child in group.children:
        if isinstance(child, Group):
            yield from _leaves_with_chain(child, chain_required and child.required)
        else:
            yield child, chain_required


def _initial(leaf: Leaf, example: dict, *, chain_required: bool, context: CommandContext):
    """The example's value, a fresh date-time, or the one running session; None for no value.

    Only where every object above is required: an initial value in an
    optional object would send that object every time.
    """
    if not chain_required:
        return None
    if leaf.path in context.initial:
        return context.initial[leaf.path]
    value = _get(example, leaf.path)
    if leaf.path == ("transactionId",) and len(context.sessions) == 1:
        return context.sessions[0][0]
    if leaf.path[-1] in _NAMED_BY_THE_OPERATOR:
        return None
    if value not in (None, ""):
        return value
    if leaf.required and leaf.schema.get("format") == "date-time":
        ahead = EXPIRY_AHEAD_SECONDS if "expir" in leaf.path[-1].lower() else 0
        return local_now(plus_seconds=ahead)
    return None


def _get(document: Any, path: tuple[str, ...]):
    for part in path:
        if not isinstance(document, dict):
            return None
        document = document.get(part)
    return document


def _has(value) -> bool:
    return value is not None and value != "" and value != []


def _build(group: Group, values: dict) -> tuple[dict, list[Leaf]]:
    """The object of `group` from the fields' values, and the required leaves left empty."""
    built, missing, _filled = _build_object(group, values)
    return built, missing


def _build_object(group: Group, values: dict) -> tuple[dict, list[Leaf], bool]:
    """(object, required leaves left empty, whether any field of it is filled).

    A child object none of whose fields is filled is left out when optional;
    a required one is sent anyway (possibly empty) and its required fields
    are missing. Only filled fields make an optional object count as given.
    """
    built: dict = {}
    missing: list[Leaf] = []
    filled = False
    for child in group.children:
        name = child.path[-1]
        if isinstance(child, Leaf):
            if _has(values.get(child.name)):
                built[name] = values[child.name]
                filled = True
            elif child.required:
                missing.append(child)
            continue
        sub, sub_missing, sub_filled = _build_object(child, values)
        if sub_filled or child.required:
            built[name] = sub
            missing += sub_missing
            filled = filled or sub_filled
    return built, missing, filled


def _with_stand_ins(payload: dict, auto_filled: dict) -> dict:
    """The payload as the command path will complete it (a stand-in for what it fills)."""
    if not auto_filled:
        return payload
    checked = dict(payload)
    for path, stand_in in auto_filled.items():
        if len(path) == 1 and path[0] not in checked:
            checked[path[0]] = stand_in
    return checked


__all__ = ["CommandContext", "OcppDateTimeField", "Section", "TypedCommandForm"]
