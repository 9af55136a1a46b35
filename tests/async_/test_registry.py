"""Service registry against one real etcd: registration, update, decorator, cache, strategies,
a lost lease coming back, and a cache recovering from compaction by diffing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from etcd_recipes import (
    AsyncClient,
    AsyncServiceRegistration,
    AsyncServiceRegistry,
    ClientClosedError,
    InvalidInstanceIdError,
    InvalidMetadataError,
    InvalidRegistrationError,
    InvalidServiceNameError,
    NoInstanceError,
    RegistrationLostError,
    RegistrationState,
    ServiceEvent,
    ServiceEventType,
)
from etcd_recipes.testing import EtcdServer, FaultProxy

WAIT = 5.0  # bound of every wait for something that takes milliseconds
FLAVOUR = "async_"  # "sync" in the generated twin


def kinds(events: list[ServiceEvent]) -> list[tuple[str, str]]:
    return [(e.type.value, e.instance.id) for e in events]


async def test_register_update_deregister(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    client = etcd_async_client
    registry = client.registry(etcd_key_prefix, ttl=5)
    assert isinstance(registry, AsyncServiceRegistry)
    reg = await registry.register("api", "i1", address="10.0.0.5", port=8080, metadata={"z": "a"})
    assert reg.registered and reg.lease_id > 0 and reg.key == etcd_key_prefix + "api/i1"

    kv = (await client.get(etcd_key_prefix + "api/i1")).kv
    assert kv is not None and kv.lease == reg.lease_id
    body = json.loads(kv.value)
    assert body["address"] == "10.0.0.5" and body["port"] == 8080
    assert body["metadata"] == {"z": "a"} and body["registered_at"] > 0
    assert (await client.lease.time_to_live(reg.lease_id)).granted_ttl == 5

    [found] = await registry.instances("api")
    assert (found.id, found.endpoint, dict(found.metadata)) == ("i1", "10.0.0.5:8080", {"z": "a"})

    await reg.update({"z": "b", "weight": 2})
    [updated] = await registry.instances("api")
    assert dict(updated.metadata) == {"z": "b", "weight": 2}
    assert updated.lease == found.lease and updated.create_revision == found.create_revision
    assert updated.registered_at == found.registered_at

    states: list[RegistrationState] = []
    reg.add_listener(lambda r, state: states.append(state))
    assert await reg.deregister() is True
    assert await reg.deregister() is True  # idempotent
    assert states == [RegistrationState.DEREGISTERED] and not reg.registered
    assert await registry.instances("api") == []
    assert (await client.lease.time_to_live(found.lease)).expired


async def test_bad_input_is_refused_and_nothing_written(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    registry = etcd_async_client.registry(etcd_key_prefix)
    bad: list[tuple[dict[str, Any], type[Exception]]] = [
        ({"service": ""}, InvalidServiceNameError),
        ({"service": "a/b"}, InvalidServiceNameError),
        ({"service": "a\0b"}, InvalidServiceNameError),
        ({"service": "s" * 256}, InvalidServiceNameError),
        ({"instance_id": ""}, InvalidInstanceIdError),
        ({"instance_id": "x/y"}, InvalidInstanceIdError),
        ({"instance_id": "x\0"}, InvalidInstanceIdError),
        ({"instance_id": "i" * 256}, InvalidInstanceIdError),
        ({"metadata": {"when": object()}}, InvalidMetadataError),
        ({"metadata": {"x": float("inf")}}, InvalidMetadataError),
        ({"address": ""}, InvalidRegistrationError),
        ({"port": 70000}, InvalidRegistrationError),
        ({"ttl": 0}, InvalidRegistrationError),
    ]
    for change, error in bad:
        args: dict[str, Any] = {"service": "api", "instance_id": "i", "address": "h"}
        args.update(change)
        with pytest.raises(error):
            await registry.register(**args)
        with pytest.raises(error):
            registry.registration(**args)
    with pytest.raises(InvalidServiceNameError):
        registry.cache("a/b")
    with pytest.raises(InvalidServiceNameError):
        await registry.instances("")
    with pytest.raises(InvalidServiceNameError):
        registry.service("", address="h")
    assert (await etcd_async_client.get(etcd_key_prefix, prefix=True)).count == 0
    assert await registry.services() == []

    reg = await registry.register("api", "i", address="h")
    with pytest.raises(InvalidMetadataError):
        await reg.update({"bad": {1, 2}})
    [still] = await registry.instances("api")
    assert dict(still.metadata) == {}
    await reg.deregister()


async def test_registration_context_manager_and_services(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    registry = etcd_async_client.registry(etcd_key_prefix)
    async with registry.registration("api", address="h1") as one:
        assert isinstance(one, AsyncServiceRegistration) and len(one.id) == 32  # a uuid4 hex
        async with registry.registration("db", "primary", address="h2", port=5432):
            assert await registry.services() == ["api", "db"]
            assert [i.id for i in await registry.instances("db")] == ["primary"]
        assert await registry.services() == ["api"]
    assert await registry.services() == []


async def test_decorator_registers_before_the_body_and_deregisters_after(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    registry = etcd_async_client.registry(etcd_key_prefix)
    seen: list[list[str]] = []

    @registry.service("worker", "w1", address="h", metadata={"v": 1})
    async def serve(x: int) -> int:
        seen.append([i.id for i in await registry.instances("worker")])
        return x * 2

    @registry.service("worker", "w2", address="h")
    async def crash() -> None:
        seen.append([i.id for i in await registry.instances("worker")])
        raise KeyError("boom")

    assert serve.__name__ == "serve"
    assert await serve(21) == 42
    assert await registry.instances("worker") == []
    with pytest.raises(KeyError):
        await crash()
    assert await registry.instances("worker") == []
    assert seen == [["w1"], ["w2"]]

    namespace: dict[str, Any] = {}  # a function of the kind this flavour's decorator refuses
    exec(("async " if FLAVOUR == "sync" else "") + "def wrong():\n    pass\n", namespace)
    with pytest.raises(InvalidRegistrationError, match="decorates"):
        registry.service("worker", address="h")(namespace["wrong"])


async def test_cache_primes_then_follows_changes(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    registry = etcd_async_client.registry(etcd_key_prefix)
    early = await registry.register("api", "a", address="h", port=1)
    await etcd_async_client.put(etcd_key_prefix + "api/junk", "not json")
    await etcd_async_client.put(etcd_key_prefix + "api/deeper/key", "{}")
    events: list[ServiceEvent] = []
    cache = registry.cache("api")
    cache.add_listener(events.append)
    with pytest.raises(Exception, match="start the cache"):
        cache.choose()
    async with cache:
        assert kinds(events) == [("added", "a")] and cache.revision > 0
        late = await registry.register("api", "b", address="h", port=2)
        assert await cache.wait_until(lambda t: "b" in t, WAIT)
        await early.update({"v": 2})
        assert await cache.wait_until(lambda t: t["a"].metadata.get("v") == 2, WAIT)
        # The same value written again (a retried put whose first try was applied): no event,
        # but the cache still takes the new revision.
        kv = (await etcd_async_client.get(etcd_key_prefix + "api/a")).kv
        assert kv is not None
        again = await etcd_async_client.put(kv.key, kv.value, lease=kv.lease)
        rev = again.header.revision
        assert await cache.wait_until(lambda t: t["a"].mod_revision == rev, WAIT)
        await early.deregister()
        assert await cache.wait_until(lambda t: "a" not in t, WAIT)
        assert kinds(events) == [("added", "a"), ("added", "b"), ("updated", "a"), ("removed", "a")]
        updated = events[2]
        assert updated.previous is not None and dict(updated.previous.metadata) == {}
        assert [i.id for i in cache.instances()] == ["b"] and "b" in cache and len(cache) == 1
        assert cache.get("b") == (await registry.instances("api"))[0]
        await late.deregister()
        assert await cache.wait_until(lambda t: not t, WAIT)
        with pytest.raises(NoInstanceError):
            cache.choose()
    assert not await cache.wait_until(lambda t: bool(t), 0.01)


async def test_watch_yields_events(etcd_async_client: AsyncClient, etcd_key_prefix: str) -> None:
    registry = etcd_async_client.registry(etcd_key_prefix)
    first = await registry.register("api", "a", address="h")
    async with registry.watch("api") as watch:
        assert kinds([await watch.read(WAIT)]) == [("added", "a")]
        await first.update({"x": 1})
        await first.deregister()
        got = []
        async for event in watch:
            got.append(event)
            if event.type is ServiceEventType.REMOVED:
                break
        assert kinds(got) == [("updated", "a"), ("removed", "a")]
    with pytest.raises(ClientClosedError):
        await watch.read(0.01)


async def test_choose_strategies_and_down_instances(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    registry = etcd_async_client.registry(etcd_key_prefix)
    regs = [await registry.register("api", f"i{n}", address=f"h{n}") for n in range(3)]
    async with registry.cache("api", down_seconds=60, error_threshold=2) as cache:
        assert await cache.wait_until(lambda t: len(t) == 3, WAIT)
        assert {cache.choose().id for _ in range(3)} == {"i0", "i1", "i2"}
        assert {cache.choose("random").id for _ in range(200)} == {"i0", "i1", "i2"}
        sticky = cache.choose("sticky")
        assert all(cache.choose("sticky") == sticky for _ in range(5))
        assert cache.choose(lambda items: max(items, key=lambda i: i.id)).id == "i2"

        assert not cache.note_error("i0") and cache.note_error("i0")  # threshold 2
        cache.mark_down(cache.get("i1") or "i1", 60)
        assert {cache.choose().id for _ in range(4)} == {"i2"}
        cache.mark_up("i1")
        assert {cache.choose().id for _ in range(4)} == {"i1", "i2"}
        cache.mark_down("i1")
        cache.mark_down("i2")
        with pytest.raises(NoInstanceError, match="3 registered, 3 marked down"):
            cache.choose()
        # Marks outlive removals: an instance that comes back is still skipped until then.
        await regs[2].deregister()
        assert await cache.wait_until(lambda t: "i2" not in t, WAIT)
        regs[2] = await registry.register("api", "i2", address="h2")
        assert await cache.wait_until(lambda t: "i2" in t, WAIT)
        with pytest.raises(NoInstanceError, match="3 registered, 3 marked down"):
            cache.choose()
        cache.mark_up("i0")
        assert cache.choose("sticky").id == "i0"  # the sticky one was down: a new pick
    for reg in regs:
        await reg.deregister()


async def test_lost_lease_re_registers_and_tells_listeners(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    registry = etcd_async_client.registry(etcd_key_prefix, ttl=2)  # refreshes every ttl / 3
    async with registry.cache("api") as cache:
        events: list[ServiceEvent] = []
        cache.add_listener(events.append)
        reg = await registry.register("api", "i", address="h", metadata={"v": 1})
        states: list[RegistrationState] = []
        reg.add_listener(lambda r, state: states.append(state))
        assert await cache.wait_until(lambda t: "i" in t, WAIT)
        old_lease = reg.lease_id

        await etcd_async_client.lease.revoke(old_lease)  # what etcd does when the TTL passes
        assert await cache.wait_until(lambda t: "i" not in t, WAIT)
        assert await cache.wait_until(lambda t: "i" in t and t["i"].lease != old_lease, WAIT)
        assert await reg.wait_registered(WAIT)
        assert states == [RegistrationState.LOST, RegistrationState.REGISTERED]
        assert reg.lost_count == 1 and reg.registered and reg.lease_id != old_lease
        assert kinds(events) == [("added", "i"), ("removed", "i"), ("added", "i")]
        assert dict(events[-1].instance.metadata) == {"v": 1}

        # Someone else takes the id over: update refuses, and the handle stops claiming it.
        other = await registry.register("api", "i", address="elsewhere")
        with pytest.raises(RegistrationLostError, match="taken over"):
            await reg.update({"v": 2})
        assert not reg.registered and states[-1] is RegistrationState.LOST
        with pytest.raises(RegistrationLostError, match="not registered now"):
            await reg.update({"v": 3})
        await reg.deregister()  # leaves the other registration alone
        [now] = await registry.instances("api")
        assert now.address == "elsewhere"
        await other.deregister()


async def test_shared_session_registrations(
    etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    registry = etcd_async_client.registry(etcd_key_prefix)
    async with etcd_async_client.session(ttl=5) as session:
        a = await registry.register("api", "a", address="h", session=session)
        b = await registry.register("api", "b", address="h", session=session)
        assert a.lease_id == b.lease_id == session.lease_id and a.ttl == 5
        await a.deregister()  # a guarded delete: the shared lease lives on
        assert [i.id for i in await registry.instances("api")] == ["b"]
        assert session.is_alive
    assert await registry.instances("api") == []  # closing the session removed b
    await b.deregister()


async def test_cache_recovers_from_compaction_by_diffing(
    etcd_server: EtcdServer, etcd_async_client: AsyncClient, etcd_key_prefix: str
) -> None:
    """The cache's connection is cut while instances change and history is compacted: its
    watch cannot resume, so it reads again and emits exactly the difference."""
    registry = etcd_async_client.registry(etcd_key_prefix)
    stay = await registry.register("api", "stay", address="h")
    change = await registry.register("api", "change", address="h")
    go = await registry.register("api", "go", address="h")
    with FaultProxy("127.0.0.1", etcd_server.client_port) as proxy:
        async with AsyncClient([proxy.endpoint]) as cut_client:
            events: list[ServiceEvent] = []
            async with cut_client.registry(etcd_key_prefix).cache("api") as cache:
                cache.add_listener(events.append)
                assert await cache.wait_until(lambda t: len(t) == 3, WAIT)
                proxy.blackhole()
                await change.update({"v": 2})
                await go.deregister()
                new = await registry.register("api", "new", address="h")
                revision = (await etcd_async_client.get("/")).header.revision
                await etcd_async_client.compact(revision)
                proxy.reset_connections()
                proxy.pass_through()
                expected = {i.id: i for i in await registry.instances("api")}
                assert await cache.wait_until(lambda t: t == expected, WAIT)
                assert sorted(kinds(events)) == [
                    ("added", "new"),
                    ("removed", "go"),
                    ("updated", "change"),
                ]
    for reg in (stay, change, new):
        await reg.deregister()
