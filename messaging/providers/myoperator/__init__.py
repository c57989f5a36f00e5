"""MyOperator provider (being built: see the provider-layer issue)."""

from ..base import Provider


class MyOperatorProvider(Provider):
    slug = "myoperator"
    display_name = "MyOperator"
