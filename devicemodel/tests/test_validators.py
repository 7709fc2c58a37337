"""A value judged by a variable's characteristics, as the console and the API judge it."""

import pytest

from devicemodel.validators import variable_value_problems


@pytest.mark.parametrize(
    ("characteristics", "value", "problems"),
    [
        ({"data_type": "integer", "min_limit": 10, "max_limit": 600}, "300", []),
        ({"data_type": "integer", "min_limit": 10, "max_limit": 600}, "5", ["must be at least 10"]),
        (
            {"data_type": "integer", "min_limit": 10, "max_limit": 600},
            "601",
            ["must be at most 600"],
        ),
        ({"data_type": "integer"}, "3.5", ["must be a whole number"]),
        ({"data_type": "decimal", "max_limit": 32.5}, "32.5", []),
        ({"data_type": "decimal", "max_limit": 32.5}, "32.6", ["must be at most 32.5"]),
        ({"data_type": "decimal"}, "NaN", ["must be a decimal number"]),
        ({"data_type": "decimal"}, "abc", ["must be a decimal number"]),
        ({"data_type": "boolean"}, "true", []),
        ({"data_type": "boolean"}, "True", ["must be true or false"]),
        ({"data_type": "dateTime"}, "2026-01-01T00:00:00Z", []),
        ({"data_type": "dateTime"}, "tomorrow", ["must be a date and time (ISO 8601)"]),
        ({"data_type": "string", "max_limit": 4}, "abcde", ["must be at most 4 characters long"]),
        ({"data_type": "OptionList", "values_list": "A,B,C"}, "B", []),
        ({"data_type": "OptionList", "values_list": "A,B,C"}, "D", ["'D' not among A, B, C"]),
        ({"data_type": "SequenceList", "values_list": "A,B,C"}, "C,A", []),
        ({"data_type": "MemberList", "values_list": "A,B,C"}, "A,A", ["lists a member twice"]),
        ({"data_type": "MemberList", "values_list": "A,B"}, "A,X", ["'X' not among A, B"]),
        ({"data_type": ""}, "anything", []),  # characteristics unknown: the charger judges
    ],
)
def test_value_problems(characteristics, value, problems):
    assert variable_value_problems(value=value, **characteristics) == problems
