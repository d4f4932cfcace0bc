"""Reading a ``:predict`` request: JSON, instances, base64 files and options, checked.

Everything a client can get wrong ends in an ``ApiError`` 400 whose message names the
field (``instances[2]``, ``parameters.top_p``) and says what is wrong.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from typing import Any

from apps.serve.catalog import FILE_KINDS, ApiError, ServedApp

MAX_INSTANCES = 32
MAX_TEXT_CHARACTERS = 100_000  # each app has its own, smaller limit; this bounds the work first
SERVER_OPTIONS = {"figure"}  # options the server handles itself rather than App.predict


@dataclasses.dataclass
class Instance:
    """One input: a text, or the bytes of a file."""

    text: str | None = None
    data: bytes | None = None


@dataclasses.dataclass
class PredictRequest:
    """A checked ``:predict`` request.

    Attributes:
        instances: the inputs, in order.
        options: keyword arguments for ``App.predict``.
        figure: whether to draw a figure per input (spectrogram, attention map).
        columnar: the request used ``"inputs"``, so the answer uses ``"outputs"``.
    """

    instances: list[Instance]
    options: dict[str, Any]
    figure: bool = False
    columnar: bool = False


def _no_constants(name: str):
    raise ApiError(400, f"request body: {name} is not valid JSON")


def parse_json(body: bytes) -> Any:
    """The request body as JSON, or an ApiError 400 saying why not."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ApiError(
            400, f"request body: not UTF-8 ({error.reason} at byte {error.start})"
        ) from None
    try:
        return json.loads(text, parse_constant=_no_constants)
    except json.JSONDecodeError as error:
        raise ApiError(
            400, f"request body: not JSON ({error.msg} at character {error.pos})"
        ) from None
    except RecursionError:
        raise ApiError(400, "request body: JSON nested too deeply") from None
    except ValueError as error:  # an integer of thousands of digits, say
        raise ApiError(400, f"request body: {str(error)[:120]}") from None


def decode_b64(value: Any, where: str, max_bytes: int) -> bytes:
    """The bytes of a ``{"b64": "..."}`` value (standard or URL-safe alphabet)."""
    if not isinstance(value, str):
        raise ApiError(400, f"{where}.b64: expected a base64 string, got {type(value).__name__}")
    if len(value) > max_bytes * 4 // 3 + 4:
        raise ApiError(413, f"{where}.b64: more than {max_bytes:,} bytes")
    text = value.strip().replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, f"{where}.b64: not valid base64") from None
    if not data:
        raise ApiError(400, f"{where}.b64: empty")
    return data


def parse_instance(value: Any, index: int, served: ServedApp, max_bytes: int) -> Instance:
    """One instance: a string, ``{"b64": ...}``, or ``{"<input>": either of those}``."""
    where = f"instances[{index}]"
    input_name = "text" if served.kind not in FILE_KINDS else served.kind
    if isinstance(value, dict) and set(value) == {input_name}:  # the named-input form
        value, where = value[input_name], f"{where}.{input_name}"
    if served.kind in FILE_KINDS:
        if isinstance(value, dict) and set(value) == {"b64"}:
            return Instance(data=decode_b64(value["b64"], where, max_bytes))
        if isinstance(value, str):
            raise ApiError(
                400,
                f'{where}: the {served.name} app takes the {served.kind} file\'s bytes as {{"b64": '
                '"..."}; file paths are not accepted',
            )
        raise ApiError(400, f'{where}: expected {{"b64": "..."}}, got {_type_name(value)}')
    if isinstance(value, dict) and set(value) == {"b64"}:
        data = decode_b64(value["b64"], where, max_bytes)
        try:
            value = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, f"{where}.b64: the text is not UTF-8") from None
    if not isinstance(value, str):
        raise ApiError(
            400, f'{where}: expected a string or {{"b64": "..."}}, got {_type_name(value)}'
        )
    if len(value) > MAX_TEXT_CHARACTERS:
        raise ApiError(
            413,
            f"{where}: {len(value):,} characters, more than the {MAX_TEXT_CHARACTERS:,} allowed",
        )
    return Instance(text=value)


def _type_name(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "a number"
    if isinstance(value, dict):
        return f"an object with keys {sorted(map(str, value))[:5]}"
    return names.get(type(value), type(value).__name__)


def parse_options(value: Any, served: ServedApp) -> tuple[dict[str, Any], bool]:
    """``parameters``: the app's predict options, and the server's ``figure`` flag."""
    if value is None:
        return {}, False
    if not isinstance(value, dict):
        raise ApiError(400, f"parameters: expected an object, got {_type_name(value)}")
    options, figure = {}, False
    for name, raw in value.items():
        if name == "figure":
            if not isinstance(raw, bool):
                raise ApiError(400, "parameters.figure: expected true or false")
            figure = raw
        elif name in served.options:
            try:
                options[name] = served.options[name].check(raw, serving=True)
            except ValueError as error:
                raise ApiError(400, f"parameters.{name}: {error}") from None
        else:
            allowed = ", ".join(sorted([*served.options, *SERVER_OPTIONS]))
            raise ApiError(
                400,
                f"parameters.{str(name)[:40]}: not an option of the {served.name} app "
                f"(options: {allowed})",
            )
    return options, figure


def parse_predict(body: bytes, served: ServedApp, max_file_bytes: int) -> PredictRequest:
    """A ``:predict`` body in the TensorFlow Serving shape, checked against the app."""
    request = parse_json(body)
    if not isinstance(request, dict):
        raise ApiError(400, f"request body: expected a JSON object, got {_type_name(request)}")
    known = {"instances", "inputs", "signature_name", "parameters"}
    unknown = sorted(str(key)[:40] for key in request if key not in known)
    if unknown:
        raise ApiError(
            400, f"request body: unknown field {unknown[0]!r} (fields: {', '.join(sorted(known))})"
        )
    if ("instances" in request) == ("inputs" in request):
        raise ApiError(400, 'request body: give exactly one of "instances" (a list) or "inputs"')
    signature = request.get("signature_name", "serving_default")
    if signature != "serving_default":
        raise ApiError(
            400, f'signature_name: only "serving_default" is served, got {signature!r:.40}'
        )
    columnar = "inputs" in request
    key = "inputs" if columnar else "instances"
    values = request[key]
    if not isinstance(values, list):
        raise ApiError(400, f"{key}: expected a list, got {_type_name(values)}")
    if not values:
        raise ApiError(400, f"{key}: empty; give at least one input")
    if len(values) > MAX_INSTANCES:
        raise ApiError(413, f"{key}: {len(values)} inputs, more than the {MAX_INSTANCES} allowed")
    instances = [parse_instance(v, i, served, max_file_bytes) for i, v in enumerate(values)]
    options, figure = parse_options(request.get("parameters"), served)
    return PredictRequest(instances, options, figure, columnar)
