"""State listeners see every change once, in the order the changes happened, one at a time --
also when two threads notice changes at once (the sync client's threads do)."""

from __future__ import annotations

import threading

from etcd_recipes._core.state import ConnectionState, StateListeners

CONNECTED, SUSPENDED, LOST = (
    ConnectionState.CONNECTED,
    ConnectionState.SUSPENDED,
    ConnectionState.LOST,
)


def test_a_change_noticed_while_another_thread_delivers_comes_after_it_in_order() -> None:
    listeners = StateListeners("test")
    seen: list[tuple[ConnectionState, str]] = []
    inside, go_on = threading.Event(), threading.Event()

    def listener(state: ConnectionState) -> None:
        seen.append((state, threading.current_thread().name))
        if state is SUSPENDED:
            inside.set()
            assert go_on.wait(5)

    listeners.add(listener)
    first = threading.Thread(target=listeners.notify, args=(SUSPENDED,), name="first")
    first.start()
    assert inside.wait(5)  # "first" is inside the listener with SUSPENDED
    listeners.notify(CONNECTED)  # noticed later on this thread: must not overtake SUSPENDED
    assert seen == [(SUSPENDED, "first")]
    go_on.set()
    first.join(5)
    assert not first.is_alive()
    assert seen == [(SUSPENDED, "first"), (CONNECTED, "first")]


def test_a_listener_that_changes_the_state_sees_the_change_after_its_own_call() -> None:
    listeners = StateListeners("test")
    seen: list[ConnectionState] = []

    def listener(state: ConnectionState) -> None:
        seen.append(state)
        if state is SUSPENDED:
            listeners.notify(LOST)  # e.g. a listener that closes the client
            assert seen == [SUSPENDED]  # not delivered inside this call: after it

    listeners.add(listener)
    listeners.notify(SUSPENDED)
    assert seen == [SUSPENDED, LOST]


def test_a_failing_listener_is_logged_and_the_others_still_called() -> None:
    listeners = StateListeners("test")
    seen: list[ConnectionState] = []

    def broken(state: ConnectionState) -> None:
        raise RuntimeError("listener bug")

    listeners.add(broken)
    listeners.add(seen.append)
    listeners.notify(CONNECTED)
    listeners.notify(LOST)
    assert seen == [CONNECTED, LOST]


def test_many_threads_each_change_is_delivered_once() -> None:
    listeners = StateListeners("test")
    seen: list[ConnectionState] = []
    listeners.add(seen.append)
    states = [CONNECTED, SUSPENDED] * 200
    threads = [threading.Thread(target=listeners.notify, args=(s,)) for s in states]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert len(seen) == len(states)
    assert seen.count(CONNECTED) == seen.count(SUSPENDED) == 200
