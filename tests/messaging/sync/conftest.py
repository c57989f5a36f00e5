import pytest

from tests.messaging.sync.memory import MemoryProvider


@pytest.fixture(autouse=True)
def memory_providers(settings):
    settings.SWITCHBOARD_PROVIDERS = [
        *settings.SWITCHBOARD_PROVIDERS,
        "tests.messaging.sync.memory.MemoryProvider",
        "tests.messaging.sync.memory.OneByOneProvider",
    ]
    MemoryProvider.stores.clear()
    yield
    MemoryProvider.stores.clear()


@pytest.fixture
def make_account(db):
    from messaging.models import ProviderAccount

    def make(provider="memory", name=None, **kwargs):
        return ProviderAccount.objects.create(provider=provider, name=name or f"{provider} account", **kwargs)

    return make


@pytest.fixture
def account(make_account):
    return make_account()


@pytest.fixture
def store(account):
    return MemoryProvider.store_for(account)
