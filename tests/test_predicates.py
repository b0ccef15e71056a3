"""Predicates people write (tags, screening rules) are checked by sqlglot before any run."""

from __future__ import annotations

import pytest

from pipelines.predicates import PredicateError, check

COLUMNS = {"age", "household_size", "died_on", "batch_date", "registered_on", "pension_status",
           "disability_grade", "is_registered"}


@pytest.mark.parametrize("text, reads, rendered", [
    ("age >= 80", {"age"}, '"l"."age" >= 80'),
    ("age >= 60 and coalesce(household_size, 0) = 1", {"age", "household_size"},
     '"l"."age" >= 60 AND COALESCE("l"."household_size", 0) = 1'),
    ("registered_on < batch_date - interval '180 days'", {"registered_on", "batch_date"},
     "\"l\".\"registered_on\" < \"l\".\"batch_date\" - INTERVAL '180 DAYS'"),
    ("is_registered and age between 16 and 59 and not (pension_status in ('1', '2'))",
     {"is_registered", "age", "pension_status"}, None),
    ("date_part('month', died_on) < 3", {"died_on"}, 'EXTRACT(MONTH FROM "l"."died_on") < 3'),
    ("disability_grade IN ('1','2') OR died_on IS NOT NULL", {"disability_grade", "died_on"}, None),
])
def test_a_predicate_over_the_base_columns_is_accepted_and_rendered_from_its_tree(text, reads, rendered):
    p = check("tag aged", text, COLUMNS)
    assert p.columns == reads
    sql = p.sql("l")
    if rendered:
        assert sql == rendered
    for column in reads:  # every column reaches dbt qualified and quoted, as the ledger's
        assert f'"l"."{column}"' in sql


@pytest.mark.parametrize("text, says", [
    ("age > 1 and household_registration.age > 1",
     "another relation is not allowed: 'household_registration.age'"),
    ("city.person_ledger.age > 1", "another relation is not allowed"),
    ("age in (select age from city.household_registration)", "a subquery is not allowed"),
    ("exists (select 1)", "a subquery is not allowed"),
    ("salary > 3000", "unknown column 'salary' at line 1, column 1"),
    ("age > 1 and\n  pg_sleep(10) is null", "function 'pg_sleep' is not allowed at line 2, column 3"),
    ("died_on < current_date", "function 'current_date' is not allowed at line 1, column 11"),
    ("died_on < now()", "function 'current_timestamp' is not allowed"),
    ("age > 1; drop table city.person_ledger", "one expression expected, found 2 statements"),
    ("age = $1", "Parameter is not allowed: '$1' at line 1"),
    ("age +", "not a SQL expression at line 1"),
    ("household_size", "unknown column"),  # not a base column here
    ("42", "is a value, not a condition"),
    ("", "must be a non-empty SQL expression"),
])
def test_a_predicate_outside_the_whitelist_is_refused_naming_the_tag_and_the_node(text, says):
    with pytest.raises(PredicateError) as refused:
        check("tag aged_80_plus", text, COLUMNS - {"household_size"})
    assert str(refused.value).startswith("tag aged_80_plus: ")
    assert says in str(refused.value)
