"""keeldb.dynamodb: boto3's DynamoDB API on a keel file, in-process (no server, no sockets).

``client(path)`` and ``resource(path)`` answer every request through keel's C request
handler (``keel_dynamo_handle`` in keel_server.h, via ``Database._dynamo_handle``), the
same function ``keel serve`` runs for each HTTP request: one implementation of the
protocol, two ways in.

When botocore is installed (it comes with boto3), ``client()`` is a real botocore client
and ``resource()`` a real boto3 resource whose HTTP sending is replaced by a call into the
handler (botocore's ``before-send`` event): request shapes, parameter validation,
``boto3.dynamodb.conditions`` Key/Attr, Python values in the resource, paginators, waiters
and ``botocore.exceptions.ClientError`` (with ``client.exceptions.<Code>``) all behave as
with DynamoDB, because they are boto3's own code. Requests are not signed (nothing leaves
the process).

Without botocore, ``client()`` returns a small stand-in with the same low-level method names
(``put_item(TableName=..., Item={...})``, DynamoDB JSON in and out, ``B`` values as bytes)
that raises :class:`ClientError` (same ``.response`` shape); ``resource()`` needs boto3.

``path`` may also be an open :class:`keeldb.Database` (shared, not closed by ``close()``).
A database the client opened is closed by ``client.close()`` (for a resource,
``resource.meta.client.close()``), else when the client is garbage-collected.
"""
from __future__ import annotations

import base64
import json
import os
import zlib
from typing import Any, Dict, Optional, Union

from .db import Database

__all__ = ["client", "resource", "ClientError", "KeelDynamoClient"]

_TARGET = "DynamoDB_20120810."


def _open(path: "Union[str, os.PathLike[str], Database]", sync: str) -> "tuple[Database, bool]":
    if isinstance(path, Database):
        return path, False
    return Database(os.fspath(path), sync=sync), True


class _Raw:
    """What botocore's AWSResponse reads the body from."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **kwargs: Any) -> Any:
        yield self._body


def _attach(events: Any, db: Database) -> None:
    """Answer the client's requests from the handler instead of the network."""
    from botocore.awsrequest import AWSResponse  # type: ignore

    counter = [0]

    def send(request: Any, **kwargs: Any) -> Any:
        target = request.headers.get("X-Amz-Target", b"")
        if isinstance(target, bytes):
            target = target.decode("ascii", "replace")
        op = target[len(_TARGET):] if target.startswith(_TARGET) else ""
        body = request.body or b""
        if not isinstance(body, (bytes, bytearray)):
            body = body.read() if hasattr(body, "read") else str(body).encode()
        status, out, _type = db._dynamo_handle(op, body)
        counter[0] += 1
        headers = {
            "content-type": "application/x-amz-json-1.0",
            "x-amzn-requestid": f"KEEL{os.getpid():08X}{counter[0]:016X}",
            "x-amz-crc32": str(zlib.crc32(out)),
            "content-length": str(len(out)),
        }
        return AWSResponse(request.url, status, headers, _Raw(out))

    events.register_first("before-send.dynamodb", send)


def _own(c: Any, db: Database, owned: bool) -> None:
    """Keep the database alive with the client; its close() closes a database it opened."""
    c._keel_db = db
    if not owned:
        return
    orig = c.close

    def close() -> None:
        orig()
        db.close()

    c.close = close


def _session_kwargs(region: str) -> Dict[str, Any]:
    import botocore  # type: ignore
    from botocore.config import Config  # type: ignore

    return dict(region_name=region, endpoint_url="http://keel.invalid",
                aws_access_key_id="keel", aws_secret_access_key="keel",
                config=Config(signature_version=botocore.UNSIGNED,
                              retries={"max_attempts": 1, "mode": "standard"}))


def client(path: "Union[str, os.PathLike[str], Database]", *, region: str = "us-east-1",
           sync: str = "none") -> Any:
    """A DynamoDB low-level client on the keel database at ``path`` (created if absent)."""
    db, owned = _open(path, sync)
    try:
        import boto3  # type: ignore  # noqa: F401
        import botocore.session  # type: ignore
    except ImportError:
        return KeelDynamoClient(db, owned)
    session = botocore.session.get_session()
    c = session.create_client("dynamodb", **_session_kwargs(region))
    _attach(c.meta.events, db)
    _own(c, db, owned)
    return c


def resource(path: "Union[str, os.PathLike[str], Database]", *, region: str = "us-east-1",
             sync: str = "none") -> Any:
    """A boto3 DynamoDB service resource (``.Table(name)``, ``.create_table(...)``) on the
    keel database at ``path``. Needs boto3."""
    import boto3  # type: ignore

    db, owned = _open(path, sync)
    res = boto3.session.Session().resource("dynamodb", **_session_kwargs(region))
    _attach(res.meta.client.meta.events, db)
    _own(res.meta.client, db, owned)
    return res


# ---- without botocore ------------------------------------------------------------------


class ClientError(Exception):
    """A DynamoDB error (as botocore's ClientError): ``.response["Error"]["Code"]`` and
    ``["Message"]``, ``.operation_name``; members such as Item or CancellationReasons are
    in ``.response`` too."""

    def __init__(self, response: Dict[str, Any], operation_name: str) -> None:
        err = response.get("Error", {})
        super().__init__(f"An error occurred ({err.get('Code')}) when calling the "
                         f"{operation_name} operation: {err.get('Message')}")
        self.response = response
        self.operation_name = operation_name


def _encode(o: Any) -> Any:
    if isinstance(o, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(o)).decode("ascii")
    raise TypeError(f"{type(o).__name__} is not JSON serializable")


def _decode_b(v: Any) -> Any:
    """Turn base64 B/BS AttributeValues back into bytes (as botocore does)."""
    if isinstance(v, dict):
        if len(v) == 1:
            k, x = next(iter(v.items()))
            if k == "B" and isinstance(x, str):
                return {"B": base64.b64decode(x)}
            if k == "BS" and isinstance(x, list) and all(isinstance(e, str) for e in x):
                return {"BS": [base64.b64decode(e) for e in x]}
        return {k: _decode_b(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_decode_b(x) for x in v]
    return v


class KeelDynamoClient:
    """The low-level client without botocore: ``client.put_item(TableName=..., Item=...)``
    and every other operation of ``keel serve --help`` by its snake_case name."""

    def __init__(self, db: Database, owned: bool) -> None:
        self._db = db
        self._owned = owned

    def _call(self, op: str, params: Dict[str, Any]) -> Dict[str, Any]:
        body = json.dumps(params, default=_encode).encode("utf-8")
        status, out, type_ = self._db._dynamo_handle(op, body)
        data = json.loads(out) if out else {}
        meta = {"HTTPStatusCode": status, "RetryAttempts": 0}
        if status != 200:
            code = type_.rsplit("#", 1)[-1]
            msg = data.pop("message", data.pop("Message", ""))
            data.pop("__type", None)
            resp = dict(_decode_b(data), Error={"Code": code, "Message": msg},
                        ResponseMetadata=meta)
            raise ClientError(resp, op)
        out_d: Dict[str, Any] = _decode_b(data)
        out_d["ResponseMetadata"] = meta
        return out_d

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        op = "".join(p.capitalize() for p in name.split("_"))

        def call(**kwargs: Any) -> Dict[str, Any]:
            return self._call(op, kwargs)

        call.__name__ = name
        return call

    def close(self) -> None:
        if self._owned:
            self._db.close()

