"""Nested lists in a serializer's output without building a serializer per row.

A SerializerMethodField that returns `Child(items, many=True).data` builds
the child's fields afresh for every row (DRF deep-copies the declared fields
of each new serializer): a page of 50 stations built 200 serializers and
spent 0.5 s on their fields alone. One child serializer per parent serves
every row of the page.
"""

from __future__ import annotations

from rest_framework import serializers


def nested_many(parent: serializers.Serializer, child_class, instances) -> list:
    """`child_class(instances, many=True).data`, with the child built once per parent."""
    children = parent.__dict__.setdefault("_nested_many", {})
    child = children.get(child_class)
    if child is None:
        child = children[child_class] = child_class(many=True, context=parent.context)
    return child.to_representation(instances)
