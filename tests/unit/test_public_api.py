"""The public API is exactly ``etcd_recipes.__all__``: pinned here so a change is deliberate."""

from __future__ import annotations

import inspect

import etcd_recipes

PUBLIC = {
    "Alarm",
    "AlarmType",
    "AsyncAuthAPI",
    "AsyncBarrier",
    "AsyncClient",
    "AsyncClusterAPI",
    "AsyncDoubleBarrier",
    "AsyncElection",
    "AsyncElectionObserver",
    "AsyncJobContext",
    "AsyncLease",
    "AsyncLock",
    "AsyncMaintenanceAPI",
    "AsyncRWLock",
    "AsyncScheduler",
    "AsyncSchedulerWorker",
    "AsyncSemaphore",
    "AsyncServiceCache",
    "AsyncServiceRegistration",
    "AsyncServiceRegistry",
    "AsyncSession",
    "AsyncTxn",
    "AsyncWatcher",
    "AuthAPI",
    "AuthError",
    "AuthFailedError",
    "AuthNotEnabledError",
    "AuthStatus",
    "Barrier",
    "BarrierFullError",
    "BarrierTimeoutError",
    "CampaignAbortedError",
    "Client",
    "ClientClosedError",
    "ClusterAPI",
    "ClusterError",
    "CompactResponse",
    "CompactedError",
    "Compare",
    "ConnectionFailedError",
    "ConnectionState",
    "DeleteResponse",
    "DoubleBarrier",
    "DownInstancePolicy",
    "DuplicateKeyError",
    "Election",
    "ElectionObserver",
    "ElectionSessionLostError",
    "EmptyKeyError",
    "EtcdConnectionError",
    "EtcdError",
    "EtcdTimeoutError",
    "Event",
    "EventType",
    "FutureRevisionError",
    "GetResponse",
    "HashKVResponse",
    "InternalError",
    "InvalidArgumentError",
    "InvalidAuthTokenError",
    "InvalidInstanceIdError",
    "InvalidJobError",
    "InvalidMetadataError",
    "InvalidRegistrationError",
    "InvalidServiceNameError",
    "JobContext",
    "JobExistsError",
    "JobNotFoundError",
    "JobSpec",
    "JobStatus",
    "KeyValue",
    "KeyValues",
    "LeaderInfo",
    "Lease",
    "LeaseError",
    "LeaseExistsError",
    "LeaseExpiredError",
    "LeaseKeepAliveResponse",
    "LeaseNotFoundError",
    "LeaseTTLTooLargeError",
    "LeaseTimeToLive",
    "Lock",
    "LockLostError",
    "LockNotHeldError",
    "LockTimeoutError",
    "LossReason",
    "MaintenanceAPI",
    "Member",
    "MemberAddResponse",
    "MemberListResponse",
    "NoInstanceError",
    "NoLeaderError",
    "NoSpaceError",
    "NotLeaderError",
    "Op",
    "Permission",
    "PermissionDeniedError",
    "PermissionType",
    "PutResponse",
    "RWLock",
    "RecipeError",
    "RegistrationLostError",
    "RegistrationState",
    "RegistryError",
    "RequestTooLargeError",
    "ResponseHeader",
    "RevisionError",
    "Role",
    "RunCancelledError",
    "RunOutcome",
    "RunRecord",
    "RunningRun",
    "Scheduler",
    "SchedulerError",
    "SchedulerWorker",
    "Semaphore",
    "ServiceCache",
    "ServiceEvent",
    "ServiceEventType",
    "ServiceInstance",
    "ServiceRegistration",
    "ServiceRegistry",
    "Session",
    "SessionExpiredError",
    "SnapshotInfo",
    "SortOrder",
    "SortTarget",
    "StatusResponse",
    "TooManyOpsError",
    "TooManyRequestsError",
    "Txn",
    "TxnResponse",
    "UnavailableError",
    "UnknownHandlerError",
    "User",
    "WatchError",
    "WatchFilter",
    "WatchOverflowError",
    "WatchResponse",
    "Watcher",
    "WorkerInfo",
}


def test_all_is_pinned() -> None:
    assert set(etcd_recipes.__all__) - {"__version__"} == PUBLIC


def test_every_public_name_exists_and_is_documented() -> None:
    for name in PUBLIC:
        obj = getattr(etcd_recipes, name)
        assert (obj.__doc__ or "").strip(), f"{name} has no docstring"


def test_every_async_class_has_a_sync_twin_with_the_same_public_methods() -> None:
    for name in PUBLIC:
        if not name.startswith("Async"):
            continue
        async_cls, sync_cls = getattr(etcd_recipes, name), getattr(etcd_recipes, name[5:])
        async_api = {m for m in dir(async_cls) if not m.startswith("_")}
        sync_api = {m for m in dir(sync_cls) if not m.startswith("_")}
        assert async_api == sync_api, name
        assert sync_cls.__module__.startswith("etcd_recipes._sync"), name


def test_errors_are_shared_by_both_flavours() -> None:
    """An error defined in generated code would exist twice; every one is defined once."""
    for name in PUBLIC:
        obj = getattr(etcd_recipes, name)
        if inspect.isclass(obj) and issubclass(obj, BaseException):
            assert issubclass(obj, etcd_recipes.EtcdError), name
            assert not obj.__module__.startswith(("etcd_recipes._sync", "etcd_recipes._async")), (
                name
            )


def test_no_protobuf_type_is_public() -> None:
    for name in PUBLIC:
        obj = getattr(etcd_recipes, name)
        assert "_pb" not in getattr(obj, "__module__", ""), name
