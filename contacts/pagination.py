"""Counting that stays fast at a million rows (admin change lists and the API).

An exact COUNT(*) over a million contacts costs more than the page itself. We
count exactly up to EXACT_LIMIT rows (a LIMITed subquery, cheap), and past that
ask PostgreSQL's planner for its estimate: an unfiltered table reads
pg_class.reltuples, a filtered one EXPLAIN's row estimate. Big numbers are
shown as "about N", which is what staff need from them. SQLite counts exactly.
"""

from __future__ import annotations

import json

from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property
from rest_framework.pagination import PageNumberPagination

EXACT_LIMIT = 10_000


def estimated_count(queryset, exact_limit: int = EXACT_LIMIT) -> tuple[int, bool]:
    """Return (count, exact): exact up to exact_limit, a planner estimate beyond (PostgreSQL)."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return queryset.count(), True
    capped = queryset.order_by()[: exact_limit + 1]
    small = capped.count()
    if small <= exact_limit:
        return small, True
    query = queryset.order_by().query
    if not query.where and not query.combinator and not query.distinct:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                [queryset.model._meta.db_table],
            )
            row = cursor.fetchone()
        if row and row[0] > 0:
            return max(int(row[0]), small), False
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return max(int(plan[0]["Plan"]["Plan Rows"]), small), False


class EstimatedCountPaginator(Paginator):
    """A Paginator whose count is estimated_count(): exact when small, an estimate when huge."""

    @cached_property
    def count(self):
        if hasattr(self.object_list, "query"):
            value, self.count_is_exact = estimated_count(self.object_list)
            return value
        self.count_is_exact = True
        return len(self.object_list)


class FastPageNumberPagination(PageNumberPagination):
    """Page-number paging for the API with estimated totals past 10,000 rows."""

    django_paginator_class = EstimatedCountPaginator
    page_size_query_param = "page_size"

    @property
    def max_page_size(self):
        from django.conf import settings

        return settings.API_MAX_PAGE_SIZE

    def get_paginated_response(self, data):
        response = super().get_paginated_response(data)
        response.data["count_is_exact"] = getattr(self.page.paginator, "count_is_exact", True)
        return response

    def get_paginated_response_schema(self, schema):
        schema = super().get_paginated_response_schema(schema)
        schema["properties"]["count_is_exact"] = {"type": "boolean"}
        return schema
