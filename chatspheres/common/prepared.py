"""A read every request makes, compiled to SQL once per process instead of once per request.

Building and compiling a queryset with subqueries costs Django about a
millisecond; running the SQL it makes costs a few dozen microseconds. For
the few reads every signed-in page makes (who is signed in, may they stay,
the header's counts) the ORM still writes the SQL, from the same querysets
and selectors as everywhere else, so the meaning cannot drift; it just
writes it once per database, and each request runs it with its own values.

Only ints, strings and datetimes vary between runs. To find where they go among the
query's parameters, the query is compiled twice with two different sets of
values: a parameter that differs between the two must be one of the
variables, and every other parameter must come out the same. A query that
also depends on something else (a clock read inside the queryset, a list
whose length changes the SQL) fails that check at its first use, loudly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import QuerySet

# Values no real id or moment takes, so a parameter equal to one is the variable.
_SAMPLE_INTS = (1_999_999_973, 1_999_999_943)
_SAMPLE_STRINGS = ("preparedsamplea", "preparedsampleb")
_SAMPLE_MOMENTS = (
    datetime(2001, 2, 3, 4, 5, 6, 789012, tzinfo=UTC),
    datetime(2002, 3, 4, 5, 6, 7, 890123, tzinfo=UTC),
)


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]
    # Parameter position -> the variable whose value goes there.
    slots: tuple[tuple[int, str], ...]
    names: tuple[str, ...]
    # Column position -> the backend's and the field's converters, and the column they convert.
    converters: tuple[tuple[int, tuple[Any, ...], Any], ...]


class PreparedQuery:
    """A ``.values()`` queryset, built by ``build(**variables)``, compiled once per database.

    ``variables`` names each variable and its kind (``int``, ``str`` or ``datetime``).
    ``rows(**values)`` runs it and returns each row as a dict, as ``.values()`` would.
    """

    def __init__(
        self, build: Callable[..., QuerySet[Any, Any]], *, variables: Mapping[str, type]
    ) -> None:
        for kind in variables.values():
            if kind not in (int, str, datetime):
                raise TypeError(f"Variables are ints, strings or datetimes, not {kind!r}.")
        self._build = build
        self._variables = dict(variables)
        self._compiled: dict[tuple[str, str], _Compiled] = {}

    def _samples(self, which: int) -> dict[str, Any]:
        # Each variable gets its own value, so two variables never share a slot by accident.
        samples: dict[str, Any] = {}
        for index, (name, kind) in enumerate(self._variables.items()):
            if kind is int:
                samples[name] = _SAMPLE_INTS[which] + 2 * index
            elif kind is str:
                samples[name] = f"{_SAMPLE_STRINGS[which]}{index}"
            else:
                samples[name] = _SAMPLE_MOMENTS[which] + timedelta(seconds=index)
        return samples

    def _adapt(self, connection: Any, name: str, value: Any) -> Any:
        kind = self._variables[name]
        if kind is int:
            return int(value)
        if kind is str:
            return str(value)
        return connection.ops.adapt_datetimefield_value(value)

    def _compile(self, alias: str) -> _Compiled:
        connection = connections[alias]
        compiled = []
        for which in (0, 1):
            samples = self._samples(which)
            query = self._build(**samples).query
            compiler = query.get_compiler(using=alias)
            sql, params = compiler.as_sql()
            adapted = {name: self._adapt(connection, name, v) for name, v in samples.items()}
            compiled.append((query, compiler, sql, tuple(params), adapted))
        (query, compiler, sql, params, first), (_, _, other_sql, other_params, second) = compiled
        if sql != other_sql or len(params) != len(other_params):
            raise ValueError("The query's SQL changes with its variables' values.")
        slots = []
        for position, (a, b) in enumerate(zip(params, other_params, strict=True)):
            if a == b:
                continue
            name = next((n for n in first if first[n] == a and second[n] == b), None)
            if name is None:
                raise ValueError(f"Parameter {position} changes by itself between two compiles.")
            slots.append((position, name))
        if query.selected:
            names = tuple(query.selected)
        else:
            names = (*query.extra_select, *query.values_select, *query.annotation_select)
        if not names:
            raise ValueError("Prepare a .values() queryset, so each column has a name.")
        converters = compiler.get_converters([column for column, _, _ in compiler.select])
        return _Compiled(
            sql=sql,
            params=params,
            slots=tuple(slots),
            names=names,
            converters=tuple(
                (position, tuple(convs), column) for position, (convs, column) in converters.items()
            ),
        )

    def rows(self, *, using: str = DEFAULT_DB_ALIAS, **values: Any) -> list[dict[str, Any]]:
        """Run the query with these values for its variables: the rows as dicts."""
        if values.keys() != self._variables.keys():
            raise TypeError(f"Give exactly these variables: {', '.join(self._variables)}.")
        connection = connections[using]
        key = (using, connection.vendor)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(using)
        params = list(compiled.params)
        for position, name in compiled.slots:
            params[position] = self._adapt(connection, name, values[name])
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            fetched = cursor.fetchall()
        rows = []
        for raw in fetched:
            row = list(raw)
            for position, convs, column in compiled.converters:
                value = row[position]
                for convert in convs:
                    value = convert(value, column, connection)
                row[position] = value
            rows.append(dict(zip(compiled.names, row, strict=True)))
        return rows
