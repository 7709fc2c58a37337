"""orm_support.query_templates on a real model: a template gives what its queryset gives."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.models import Exists, F, OuterRef, Q, Subquery
from django.test.utils import CaptureQueriesContext

from drivers.models import IdTag
from orm_support.query_templates import QueryTemplate

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def tags_like(*, text: str, pks: list[int], expiring_before: datetime | None, accepted: bool):
    children = IdTag.objects.filter(parent=OuterRef("pk"))
    queryset = IdTag.objects.filter(
        Q(id_tag__iexact=text) | Q(pk__in=pks), status="Accepted" if accepted else "Blocked"
    )
    if expiring_before is not None:
        queryset = queryset.filter(expiry_date__lt=expiring_before)
    return queryset.annotate(
        parent_value=F("parent__id_tag"),
        has_children=Exists(children),
        first_child_created=Subquery(children.order_by("pk").values("created_at")[:1]),
    ).order_by("pk")


TAGS_LIKE = QueryTemplate(tags_like)


@pytest.fixture
def tags():
    parent = IdTag.objects.create(id_tag="PARENT", status="Accepted", expiry_date=T0)
    made = [parent]
    for number in range(5):
        made.append(
            IdTag.objects.create(
                id_tag=f"TAG-{number}",
                status="Accepted" if number % 2 == 0 else "Blocked",
                expiry_date=T0 + timedelta(days=number),
                parent=parent if number < 3 else None,
            )
        )
    return made


def described(instances):
    return [
        (tag.pk, tag.id_tag, tag.parent_value, tag.has_children, tag.first_child_created)
        for tag in instances
    ]


@pytest.mark.parametrize(
    "values",
    [
        dict(text="tag-0", pks=[], expiring_before=None, accepted=True),
        dict(text="TAG-1", pks=[], expiring_before=None, accepted=False),
        dict(text="nobody", pks=["first", "last"], expiring_before=None, accepted=True),
        dict(text="parent", pks=["first"], expiring_before=T0 + timedelta(days=3), accepted=True),
        dict(text="tag-4", pks=["first", "last", "first"], expiring_before=T0, accepted=True),
    ],
)
def test_rows_are_those_of_the_queryset(tags, values):
    values = dict(values, pks=[tags[0].pk if p == "first" else tags[-1].pk for p in values["pks"]])
    assert described(TAGS_LIKE.rows(**values)) == described(tags_like(**values))


def test_each_run_takes_its_own_values_and_compiles_once_per_shape(tags):
    template = QueryTemplate(tags_like)
    for tag in tags[1:]:
        found = template.rows(text=tag.id_tag, pks=[], expiring_before=None, accepted=True)
        expected = [tag.pk] if tag.status == "Accepted" else []
        assert [row.pk for row in found] == expected
    assert len(template._compiled) == 1
    template.rows(text="x", pks=[1, 2], expiring_before=None, accepted=True)
    template.rows(text="y", pks=[3, 4], expiring_before=T0, accepted=True)
    assert len(template._compiled) == 3


def test_annotations_are_converted_as_the_queryset_converts_them(tags):
    parent = TAGS_LIKE.rows(text="PARENT", pks=[], expiring_before=None, accepted=True)[0]
    assert parent.has_children is True
    assert isinstance(parent.first_child_created, datetime)
    assert parent.first_child_created.tzinfo is not None
    child = TAGS_LIKE.rows(text="TAG-0", pks=[], expiring_before=None, accepted=True)[0]
    assert (child.has_children, child.first_child_created, child.parent_value) == (
        False,
        None,
        "PARENT",
    )


def test_a_run_is_one_query(tags):
    TAGS_LIKE.rows(text="warm", pks=[], expiring_before=None, accepted=True)
    with CaptureQueriesContext(connection) as queries:
        TAGS_LIKE.rows(text="TAG-2", pks=[], expiring_before=None, accepted=True)
    assert len(queries) == 1


def test_values_it_cannot_stand_in_for_are_refused():
    template = QueryTemplate(lambda *, ratio: IdTag.objects.filter(pk__gt=ratio))
    with pytest.raises(TypeError, match="float"):
        template.rows(ratio=1.5)


def test_a_value_the_queryset_changes_on_its_way_runs_as_the_queryset(tags):
    # __icontains escapes the text and wraps it in % signs: no template can
    # pass the real value for it, so the queryset runs itself, rightly.
    template = QueryTemplate(
        lambda *, text: IdTag.objects.filter(id_tag__icontains=text).order_by("pk")
    )
    assert [tag.id_tag for tag in template.rows(text="g-_")] == []
    assert [tag.id_tag for tag in template.rows(text="AG-1")] == ["TAG-1"]
    assert template._compiled[(("text", str),)][1] is None
