"""Authentication: the client's token handling, and the Auth API (``client.auth``).

With ``username``/``password`` the client calls Authenticate when it connects (or before its
first call, if it was not connected explicitly), sends the token with every call -- streams
included -- and, when etcd says the token is invalid (a simple token expires after
``--auth-token-ttl`` seconds unused; a restarted member forgets its tokens), authenticates once
more and repeats the call once. There is no retry loop: a second refusal is raised.

The password is kept in a ``Secret`` and the token only in the connection's call metadata;
neither appears in a repr, a log line or an exception message.
"""

from __future__ import annotations

import contextvars
import functools
import logging
from collections.abc import Callable
from typing import Any

from .._core.admin import (
    AuthStatus,
    PermissionType,
    Role,
    Secret,
    User,
    check_name,
    check_password,
    permission_range,
)
from .._core.keys import KeyLike
from .._exceptions import (
    AuthFailedError,
    AuthNotEnabledError,
    EtcdError,
    InternalError,
    InvalidArgumentError,
)
from .._pb import auth_pb2, rpc_pb2
from . import _backend as backend
from ._connection import AsyncConnection
from .watch import AsyncWatcher

log = logging.getLogger("etcd_recipes.auth")

# True while this task (thread) runs Authenticate: a refusal then must not re-authenticate.
_AUTHENTICATING: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "etcd_recipes_authenticating", default=False
)


class AsyncAuthConnection(AsyncConnection):
    """A connection that authenticates as ``username`` and renews its token when refused.

    ``authentications`` counts successful Authenticate calls (for tests and diagnostics).
    """

    def __init__(self, endpoints: Any, *, username: str, password: Secret, **options: Any) -> None:
        super().__init__(endpoints, **options)
        self.username = username
        self._password = password
        self._auth_lock = backend.Lock()
        self._authenticated = False  # a token is held, or etcd said auth is not enabled
        self.authentications = 0
        self.reauthenticate = self.renew_token

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.target} user={self.username!r}>"

    async def connect(self) -> None:
        """Wait until a member is reachable, then authenticate."""
        await super().connect()
        await self.ensure_authenticated()

    async def unary(self, *args: Any, **kwargs: Any) -> Any:
        """Like ``AsyncConnection.unary``, authenticating first if that was not done yet."""
        if not self._authenticated:
            await self.ensure_authenticated()
        return await super().unary(*args, **kwargs)

    async def ensure_authenticated(self) -> None:
        """Authenticate unless a token is held (or etcd said auth is disabled)."""
        if self._authenticated:
            return
        async with self._auth_lock:
            if not self._authenticated:
                await self._authenticate()

    async def renew_token(self) -> None:
        """Get a new token (the hook ``conn.unary`` calls after an invalid-token refusal).

        Calls that were refused together renew the token once: a caller that waited while
        another renewed it keeps the new token.
        """
        if _AUTHENTICATING.get():
            return
        stale = self.metadata
        async with self._auth_lock:
            if self._authenticated and self.metadata is not stale:
                return
            log.info("etcd refused the auth token of user %r; authenticating again", self.username)
            await self._authenticate()

    def forget_token(self) -> None:
        """Authenticate again before the next call (after auth was enabled, for instance)."""
        self._authenticated = False

    def set_password(self, password: Secret) -> None:
        """Use this password from now on (after the user's password was changed)."""
        self._password = password

    async def _authenticate(self) -> None:
        flag = _AUTHENTICATING.set(True)
        try:
            response = await super().unary(
                anonymous_authenticate(self),
                rpc_pb2.AuthenticateRequest(name=self.username, password=self._password.reveal()),
                None,
                False,
                f"authenticate as {self.username!r}",
            )
        except AuthNotEnabledError:
            # Like Go's client: credentials for a cluster without auth are not an error.
            log.debug("authentication is not enabled on the cluster; sending no token")
            self.metadata = None
            self._authenticated = True
            return
        except EtcdError as error:
            # Drop the inner frames: their locals hold the request, password included.
            raise error.with_traceback(None) from None
        finally:
            _AUTHENTICATING.reset(flag)
        self.metadata = (("token", response.token),)
        self._authenticated = True
        self.authentications += 1
        log.debug("authenticated as %r", self.username)


def _without_metadata(fn: Any) -> Any:
    """``fn`` (a gRPC multi-callable) called without metadata: Authenticate carries
    credentials, never a (possibly stale) token."""

    def call(request: Any, *, timeout: Any = None, metadata: Any = None) -> Any:
        return fn(request, timeout=timeout)

    return call


def anonymous_authenticate(conn: AsyncConnection) -> Any:
    """The Authenticate method of ``conn``, sent without the token (with failover)."""
    return conn.adapted(conn.auth.Authenticate, _without_metadata, ":anonymous")


def auth_connection_factory(
    username: str | None, password: str | None
) -> Callable[..., AsyncConnection]:
    """The connection class to build: plain, or authenticating with these credentials."""
    if username is None and password is None:
        return AsyncConnection
    if username is None or password is None:
        raise InvalidArgumentError("username and password go together: give both or neither")
    return functools.partial(
        AsyncAuthConnection,
        username=check_name(username, "username"),
        password=Secret(check_password(password)),
    )


class _AsyncAuthWatcher(AsyncWatcher):
    """A watcher that makes sure the client holds a token before it opens its stream."""

    async def start(self) -> AsyncWatcher:
        """Authenticate if needed, then create the watch (see ``AsyncWatcher.start``)."""
        conn = self._hub.conn
        if isinstance(conn, AsyncAuthConnection):
            await conn.ensure_authenticated()
        return await super().start()


def watcher_class(conn: AsyncConnection) -> type[AsyncWatcher]:
    """The watcher class for a client on ``conn``."""
    return _AsyncAuthWatcher if isinstance(conn, AsyncAuthConnection) else AsyncWatcher


class AsyncAuthAPI:
    """etcd's Auth service (``client.auth``): enable/disable authentication, manage users,
    roles and their permissions.

    etcd needs a ``root`` user holding the ``root`` role before ``enable()``; once auth is on,
    these methods need root. Names are non-empty ``str``. Errors: ``ClusterError`` (user or role exists / not found, permission
    not granted ...), ``PermissionDeniedError``, ``AuthNotEnabledError``.
    """

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._conn.target}>"

    async def _call(
        self, method: Any, request: Any, timeout: float | None, mutating: bool, what: str
    ) -> Any:
        return await self._conn.unary(method, request, timeout, mutating, f"auth.{what}")

    # ------------------------------------------------------------------ on / off

    async def enable(self, *, timeout: float | None = None) -> None:
        """Turn authentication on (a ``root`` user with the ``root`` role must exist).

        A client created with ``username``/``password`` authenticates before its next call.
        """
        conn = self._conn
        await self._call(conn.auth.AuthEnable, rpc_pb2.AuthEnableRequest(), timeout, True, "enable")
        if isinstance(conn, AsyncAuthConnection):
            conn.forget_token()

    async def disable(self, *, timeout: float | None = None) -> None:
        """Turn authentication off (needs root)."""
        conn = self._conn
        await self._call(
            conn.auth.AuthDisable, rpc_pb2.AuthDisableRequest(), timeout, True, "disable"
        )

    async def status(self, *, timeout: float | None = None) -> AuthStatus:
        """Whether authentication is enabled (and the auth revision).

        On etcd 3.5 a cluster with auth enabled answers this to root only. etcd 3.4 has no
        AuthStatus call: the answer is then inferred from a credential-less Authenticate
        (which etcd refuses with "not enabled" or "failed"), and ``auth_revision`` is None.
        """
        conn = self._conn
        try:
            response = await self._call(
                conn.auth.AuthStatus, rpc_pb2.AuthStatusRequest(), timeout, False, "status"
            )
        except InternalError as error:
            if error.code != "UNIMPLEMENTED":
                raise
        else:
            return AuthStatus(bool(response.enabled), int(response.authRevision))
        return AuthStatus(await self._probe_enabled(timeout), None)

    async def _probe_enabled(self, timeout: float | None) -> bool:
        conn = self._conn
        probe = rpc_pb2.AuthenticateRequest(name="", password="")
        try:
            await conn.unary(anonymous_authenticate(conn), probe, timeout, False, "auth.status")
        except AuthNotEnabledError:
            return False
        except AuthFailedError:
            return True
        return True  # pragma: no cover - an empty user name never authenticates

    # ------------------------------------------------------------------ users

    async def user_add(
        self, name: str, password: str | None, *, timeout: float | None = None
    ) -> None:
        """Create user ``name``. ``password=None`` makes a user without a password, which can
        authenticate only by a TLS client certificate whose common name is ``name``."""
        check_name(name, "user name")
        conn = self._conn
        if password is None:
            request = rpc_pb2.AuthUserAddRequest(
                name=name, options=auth_pb2.UserAddOptions(no_password=True)
            )
        else:
            request = rpc_pb2.AuthUserAddRequest(name=name, password=check_password(password))
        await self._call(conn.auth.UserAdd, request, timeout, True, "user_add")

    async def user_delete(self, name: str, *, timeout: float | None = None) -> None:
        """Delete user ``name``."""
        request = rpc_pb2.AuthUserDeleteRequest(name=check_name(name, "user name"))
        await self._call(self._conn.auth.UserDelete, request, timeout, True, "user_delete")

    async def user_get(self, name: str, *, timeout: float | None = None) -> User:
        """User ``name`` and its roles."""
        request = rpc_pb2.AuthUserGetRequest(name=check_name(name, "user name"))
        response = await self._call(self._conn.auth.UserGet, request, timeout, False, "user_get")
        return User(name, tuple(response.roles))

    async def user_list(self, *, timeout: float | None = None) -> tuple[str, ...]:
        """Every user name."""
        request = rpc_pb2.AuthUserListRequest()
        response = await self._call(self._conn.auth.UserList, request, timeout, False, "user_list")
        return tuple(response.users)

    async def user_change_password(
        self, name: str, password: str, *, timeout: float | None = None
    ) -> None:
        """Set user ``name``'s password. If this client authenticates as ``name``, it uses the
        new password from now on."""
        check_name(name, "user name")
        request = rpc_pb2.AuthUserChangePasswordRequest(
            name=name, password=check_password(password)
        )
        conn = self._conn
        await self._call(
            conn.auth.UserChangePassword, request, timeout, True, "user_change_password"
        )
        if isinstance(conn, AsyncAuthConnection) and conn.username == name:
            conn.set_password(Secret(password))

    async def user_grant_role(self, user: str, role: str, *, timeout: float | None = None) -> None:
        """Grant ``role`` to ``user``."""
        request = rpc_pb2.AuthUserGrantRoleRequest(
            user=check_name(user, "user name"), role=check_name(role, "role name")
        )
        await self._call(self._conn.auth.UserGrantRole, request, timeout, True, "user_grant_role")

    async def user_revoke_role(self, user: str, role: str, *, timeout: float | None = None) -> None:
        """Take ``role`` away from ``user``."""
        request = rpc_pb2.AuthUserRevokeRoleRequest(
            name=check_name(user, "user name"), role=check_name(role, "role name")
        )
        await self._call(self._conn.auth.UserRevokeRole, request, timeout, True, "user_revoke_role")

    # ------------------------------------------------------------------ roles

    async def role_add(self, name: str, *, timeout: float | None = None) -> None:
        """Create role ``name`` (with no permissions)."""
        request = rpc_pb2.AuthRoleAddRequest(name=check_name(name, "role name"))
        await self._call(self._conn.auth.RoleAdd, request, timeout, True, "role_add")

    async def role_delete(self, name: str, *, timeout: float | None = None) -> None:
        """Delete role ``name`` (users lose it)."""
        request = rpc_pb2.AuthRoleDeleteRequest(role=check_name(name, "role name"))
        await self._call(self._conn.auth.RoleDelete, request, timeout, True, "role_delete")

    async def role_get(self, name: str, *, timeout: float | None = None) -> Role:
        """Role ``name`` and its permissions."""
        request = rpc_pb2.AuthRoleGetRequest(role=check_name(name, "role name"))
        response = await self._call(self._conn.auth.RoleGet, request, timeout, False, "role_get")
        return Role._from_pb(name, response)

    async def role_list(self, *, timeout: float | None = None) -> tuple[str, ...]:
        """Every role name."""
        request = rpc_pb2.AuthRoleListRequest()
        response = await self._call(self._conn.auth.RoleList, request, timeout, False, "role_list")
        return tuple(response.roles)

    async def role_grant_permission(
        self,
        role: str,
        key: KeyLike,
        permission: PermissionType | str = PermissionType.READWRITE,
        *,
        prefix: bool = False,
        range_end: KeyLike | None = None,
        timeout: float | None = None,
    ) -> None:
        """Let ``role`` READ, WRITE or READWRITE ``key`` -- or every key under it with
        ``prefix=True``, or ``[key, range_end)``."""
        start, end = permission_range(key, prefix=prefix, range_end=range_end)
        perm = auth_pb2.Permission(
            permType=PermissionType.parse(permission).value,  # type: ignore[arg-type]
            key=start,
            range_end=end,
        )
        request = rpc_pb2.AuthRoleGrantPermissionRequest(
            name=check_name(role, "role name"), perm=perm
        )
        await self._call(
            self._conn.auth.RoleGrantPermission, request, timeout, True, "role_grant_permission"
        )

    async def role_revoke_permission(
        self,
        role: str,
        key: KeyLike,
        *,
        prefix: bool = False,
        range_end: KeyLike | None = None,
        timeout: float | None = None,
    ) -> None:
        """Remove ``role``'s permission on exactly this key, prefix or range (as granted)."""
        start, end = permission_range(key, prefix=prefix, range_end=range_end)
        request = rpc_pb2.AuthRoleRevokePermissionRequest(
            role=check_name(role, "role name"), key=start, range_end=end
        )
        await self._call(
            self._conn.auth.RoleRevokePermission, request, timeout, True, "role_revoke_permission"
        )
