"""The dashboard's charge point grid: searched, filtered, ordered and paged by the database.

A network of 10,000 charge points does not fit on a page, and an operator
looks for what needs attention first: the grid is ordered by attention
(`RANK_*`: a problem, then charging, then online, then offline), then by
charge point id, and shows one page of PAGE_SIZE at a time. The same order
is computed in SQL (to page) and in Python from a card (`card_rank`, to
place a pushed card without a query); charge point ids compare by code
point in both (the "C"/binary collation), as the browser compares them.

`GridView` is what one open dashboard shows; it decides which pushed cards
concern it, so that a push costs a dashboard nothing unless one of its
cards changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django import forms
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Collate
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from stations.choices import ChargePointErrorCode, ConnectorStatus, SessionStatus
from stations.models import ChargePoint, Connector, Station, Transaction

PAGE_SIZE = 100
RANK_PROBLEM, RANK_CHARGING, RANK_ONLINE, RANK_OFFLINE = range(4)
# A car is plugged in and a session draws (or may draw) power.
CHARGING_STATUSES = (
    ConnectorStatus.CHARGING,
    ConnectorStatus.SUSPENDED_EV,
    ConnectorStatus.SUSPENDED_EVSE,
)
NO_ERROR = ("", ChargePointErrorCode.NO_ERROR)
STATUS_PROBLEM = "problem"
ONLINE, OFFLINE = "yes", "no"


def connector_problem_q() -> Q:
    """A connector that needs attention: Faulted, or reporting an error code."""
    return Q(status=ConnectorStatus.FAULTED) | ~Q(error_code__in=NO_ERROR)


def is_problem_connector(connector: Mapping) -> bool:
    return connector["status"] == ConnectorStatus.FAULTED or connector["error_code"] not in NO_ERROR


def attention_annotations() -> dict:
    """has_problem, has_charging, has_running_session and `attention` (a RANK_*) per charge point.

    Offline with a running session is a problem (the session goes on
    unseen, its stop may never arrive); a charging status reported before
    the charge point went offline is not "charging".

    Each is "pk IN (the few charge points concerned)", not a correlated
    EXISTS: PostgreSQL reads each small set once into a hash, and costs the
    plan accordingly. EXISTS, repeated in the ORDER BY of 10,000 charge
    points, was costed per row: high enough to set off JIT compilation,
    which took most of a second on every dashboard load.
    """
    problem = Connector.objects.filter(connector_problem_q()).values("charge_point_id")
    charging = Connector.objects.filter(connector_id__gt=0, status__in=CHARGING_STATUSES).values(
        "charge_point_id"
    )
    running = Transaction.objects.filter(status=SessionStatus.RUNNING).values("charge_point_id")
    has_problem, has_charging, has_running = (
        Q(pk__in=problem),
        Q(pk__in=charging),
        Q(pk__in=running),
    )
    return {
        "has_problem": ExpressionWrapper(has_problem, output_field=BooleanField()),
        "has_charging": ExpressionWrapper(has_charging, output_field=BooleanField()),
        "has_running_session": ExpressionWrapper(has_running, output_field=BooleanField()),
        "attention": Case(
            When(has_problem, then=Value(RANK_PROBLEM)),
            When(Q(is_online=False) & has_running, then=Value(RANK_PROBLEM)),
            When(Q(is_online=True) & has_charging, then=Value(RANK_CHARGING)),
            When(is_online=True, then=Value(RANK_ONLINE)),
            default=Value(RANK_OFFLINE),
            output_field=IntegerField(),
        ),
    }


def card_rank(card: Mapping) -> int:
    """The RANK_* of a dashboard card: attention_annotations' `attention`, in Python."""
    if any(is_problem_connector(c) for c in card["connectors"]):
        return RANK_PROBLEM
    if not card["online"]:
        return RANK_PROBLEM if card.get("running") else RANK_OFFLINE
    charging = any(
        c["connector_id"] > 0 and c["status"] in CHARGING_STATUSES for c in card["connectors"]
    )
    return RANK_CHARGING if charging else RANK_ONLINE


def card_key(card: Mapping) -> tuple[int, str]:
    """Where a card sorts on the grid (the SQL order of grid_queryset)."""
    return (card["rank"], card["id"])


def _id_order():
    # Code point order on both databases, as Python and the browser compare.
    return Collate("charge_point_id", "C" if connection.vendor == "postgresql" else "BINARY")


# --- What an operator asks for: search, filters, page ------------------------------


def _html_attrs(attrs: Mapping) -> str:
    """Attributes as django/forms/widgets/attrs.html writes them (in order; True: bare)."""
    return "".join(
        f" {conditional_escape(name)}"
        if value is True
        else f' {conditional_escape(name)}="{conditional_escape(str(value))}"'
        for name, value in attrs.items()
        if value is not False
    )


class ManyOptionsSelect(forms.Select):
    """A Select writing its options in Python: the markup of Django's templates, faster.

    A network has thousands of stations; rendering each option through
    its template took a good part of the dashboard's time.
    """

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        parts = [
            f'<select name="{conditional_escape(widget["name"])}"{_html_attrs(widget["attrs"])}>'
        ]
        for group_name, options, _index in widget["optgroups"]:
            if group_name:
                parts.append(f'\n  <optgroup label="{conditional_escape(group_name)}">')
            parts.extend(
                f'\n  <option value="{conditional_escape(str(option["value"]))}"'
                f"{_html_attrs(option['attrs'])}>{conditional_escape(option['label'])}</option>"
                for option in options
            )
            if group_name:
                parts.append("\n  </optgroup>")
        parts.append("\n</select>")
        return mark_safe("".join(parts))  # noqa: S308 - every part escaped above


class StationChoices(forms.models.ModelChoiceIterator):
    """(pk, name) straight from the database: no model instance per option.

    The labels are Station.__str__ (its name); the field still validates a
    choice against its queryset.
    """

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        yield from self.queryset.values_list("pk", "name")


class StationChoiceField(forms.ModelChoiceField):
    iterator = StationChoices


class GridForm(forms.Form):
    q = forms.CharField(label=_("search"), required=False, max_length=100, strip=True)
    status = forms.ChoiceField(
        label=_("status"),
        required=False,
        choices=[("", _("any status")), (STATUS_PROBLEM, _("needs attention"))]
        + [(value, label) for value, label in ConnectorStatus.choices],
    )
    online = forms.ChoiceField(
        label=_("connection"),
        required=False,
        choices=[("", _("online or offline")), (ONLINE, _("online")), (OFFLINE, _("offline"))],
    )
    station = StationChoiceField(
        label=_("station"),
        required=False,
        queryset=Station.objects.order_by("name"),
        empty_label=_("every station"),
        widget=ManyOptionsSelect,
    )
    page = forms.IntegerField(label=_("page"), required=False, min_value=1)


@dataclass(frozen=True)
class GridQuery:
    """A search of the grid: every field optional; the default is page 1 of everything."""

    q: str = ""
    status: str = ""
    online: str = ""
    station_id: int | None = None
    page: int = 1

    @classmethod
    def from_form(cls, form: GridForm) -> GridQuery:
        """The valid parts of a submitted form (an invalid field is left out, not guessed)."""
        form.is_valid()
        data = {
            name: form.cleaned_data.get(name) for name in form.fields if name not in form.errors
        }
        station = data.get("station")
        return cls(
            q=data.get("q") or "",
            status=data.get("status") or "",
            online=data.get("online") or "",
            station_id=station.pk if station else None,
            page=data.get("page") or 1,
        )

    @classmethod
    def from_params(cls, params: Mapping) -> GridQuery:
        return cls.from_form(GridForm(params))

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.status or self.online or self.station_id)

    def params(self, **changes) -> dict:
        """The GET parameters of this search (page changed), for links."""
        values = {
            "q": self.q,
            "status": self.status,
            "online": self.online,
            "station": self.station_id or "",
            "page": self.page,
        } | changes
        return {key: value for key, value in values.items() if value not in ("", None, 1)}

    def matches(self, card: Mapping) -> bool:
        """Whether a card belongs to this search (grid_queryset's filters, in Python)."""
        if self.q:
            needle = self.q.casefold()
            if needle not in card["id"].casefold() and needle not in card["station"].casefold():
                return False
        if self.status == STATUS_PROBLEM and card["rank"] != RANK_PROBLEM:
            return False
        if self.status and self.status != STATUS_PROBLEM:
            if not any(c["status"] == self.status for c in card["connectors"]):
                return False
        if self.online and card["online"] != (self.online == ONLINE):
            return False
        return self.station_id is None or card["station_id"] == self.station_id


def grid_queryset(query: GridQuery) -> QuerySet[ChargePoint]:
    """The charge points of a search, annotated with their attention, in grid order."""
    queryset = ChargePoint.objects.select_related("station").annotate(**attention_annotations())
    if query.q:
        queryset = queryset.filter(
            Q(charge_point_id__icontains=query.q) | Q(station__name__icontains=query.q)
        )
    if query.status == STATUS_PROBLEM:
        queryset = queryset.filter(attention=RANK_PROBLEM)
    elif query.status:
        with_status = Connector.objects.filter(charge_point=OuterRef("pk"), status=query.status)
        queryset = queryset.filter(Exists(with_status))
    if query.online:
        queryset = queryset.filter(is_online=query.online == ONLINE)
    if query.station_id is not None:
        queryset = queryset.filter(station_id=query.station_id)
    return queryset.order_by(F("attention").asc(), _id_order().asc(), "pk")


@dataclass(frozen=True)
class GridPage:
    charge_points: list[ChargePoint]
    number: int
    num_pages: int
    count: int
    per_page: int

    def as_json(self) -> dict:
        return {
            "page": self.number,
            "pages": self.num_pages,
            "count": self.count,
            "per_page": self.per_page,
        }


def grid_page(query: GridQuery, *, per_page: int = PAGE_SIZE) -> GridPage:
    """One page of a search (a count and a page query; a page past the end is the last).

    The page is ordered on the charge point ids alone, then its rows are
    read with their stations: sorting 10,000 narrow rows, not 10,000
    joined with their stations, for the 100 a page shows.
    """
    paginator = Paginator(grid_queryset(query).values_list("pk", flat=True), per_page)
    page = paginator.get_page(query.page)
    pks = list(page.object_list)
    rows = {cp.pk: cp for cp in grid_queryset(GridQuery()).filter(pk__in=pks).order_by()}
    return GridPage(
        # One deleted between the two reads is left out; the next refresh settles the page.
        charge_points=[rows[pk] for pk in pks if pk in rows],
        number=page.number,
        num_pages=paginator.num_pages,
        count=paginator.count,
        per_page=per_page,
    )


# --- One open dashboard: which pushed cards concern it -----------------------------


@dataclass
class GridView:
    """The cards one dashboard shows, to filter the pushes it is sent.

    A pushed card is forwarded when the dashboard shows it, or when it now
    belongs to the search and falls on page 1 (inserted in order; the last
    card then drops off a full page) or into the room left on the last page.
    A change that moves cards across a page boundary other than page 1's
    end (a card leaving the search, or sorting before or after the page)
    cannot be applied without asking the database: the view then says the
    page must be read again, which the consumer does at most every few
    seconds.
    """

    query: GridQuery = field(default_factory=GridQuery)
    keys: dict[int, tuple[int, str]] = field(default_factory=dict)
    number: int = 1
    num_pages: int = 1
    per_page: int = PAGE_SIZE

    def show(self, cards: Iterable[Mapping], page: Mapping) -> None:
        """The dashboard now shows these cards (a snapshot or a reloaded page)."""
        self.keys = {card["pk"]: card_key(card) for card in cards}
        self.number, self.num_pages = page["page"], page["pages"]
        self.per_page = page["per_page"]

    @property
    def full(self) -> bool:
        return len(self.keys) >= self.per_page

    def accept(self, cards: Iterable[Mapping]) -> tuple[list[Mapping], bool]:
        """(the cards to forward, whether the page must be read again)."""
        forward, reload = [], False
        for card in cards:
            key, pk = card_key(card), card["pk"]
            belongs = self.query.matches(card)
            others = [k for other, k in self.keys.items() if other != pk]
            first, last = (min(others), max(others)) if others else (None, None)
            if pk in self.keys:
                forward.append(card)
                if not belongs:
                    reload = True
                elif (self.number > 1 and first is not None and key < first) or (
                    self.number < self.num_pages and last is not None and key > last
                ):
                    reload = True
                self.keys[pk] = key
                continue
            if not belongs:
                continue
            if self.number > 1 and (first is None or key < first):
                reload = True  # it belongs on an earlier page: everything shifts
                continue
            if not self.full:
                if self.number == self.num_pages:  # the room at the end of the last page
                    forward.append(card)
                    self.keys[pk] = key
                else:
                    reload = True
                continue
            if last is not None and key < last:
                if self.number == 1:
                    forward.append(card)
                    self.keys[pk] = key
                    self.keys.pop(max(self.keys, key=self.keys.__getitem__))
                else:
                    reload = True
        return forward, reload
