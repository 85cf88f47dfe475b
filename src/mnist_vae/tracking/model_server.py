"""``mnist-vae serve``: MLflow's own scoring server for a model, with each request's size
bounded before anything reads it whole, and its digits checked before MLflow casts them.

``mlflow models serve`` reads and parses a request's whole body before the model sees
it, so one large request costs the server its memory, however few rows the model then
accepts. Here a body over ``MAX_REQUEST_BYTES`` is refused with a 413, from its
``Content-Length`` before a byte of it is read, or, sent in chunks, as soon as it
passes the limit; the buffered body is never larger than the limit. MLflow's parser
also casts a digit of 3.7 to the signature's int64, so the model would draw a 3; here
it is refused with a 400 first.
"""

import json

from mnist_vae.serving import MAX_ROWS

MAX_REQUEST_BYTES = 4 * 1024 * 1024
"""Room for ``MAX_ROWS`` latent vectors of up to about 190 numbers written out in full."""


def app(model_uri: str):
    """The scoring app of ``mlflow models serve --env-manager local``, guarded."""
    import mlflow.pyfunc
    from mlflow.pyfunc import scoring_server

    scoring = scoring_server.init(mlflow.pyfunc.load_model(model_uri))
    return guarded(scoring, MAX_REQUEST_BYTES, fractional_digit)


def fractional_digit(body: bytes) -> str | None:
    """What is wrong with the first digit of a JSON request that is not a whole number;
    anything else is left to MLflow's parser and the model."""
    try:
        request = json.loads(body)
    except ValueError:
        return None
    inputs = request.get("inputs") if isinstance(request, dict) else None
    digits = inputs.get("digit") if isinstance(inputs, dict) else None
    for row, digit in enumerate(digits if isinstance(digits, list) else []):
        if isinstance(digit, float) and not digit.is_integer():
            return f"digit: row {row} is {digit}, expected a whole number 0 to 9"
    return None


def guarded(inner, limit: int, check):
    """An ASGI app that passes ``inner`` only HTTP requests of at most ``limit`` bytes
    whose body ``check`` finds nothing wrong with."""

    async def guarded_app(scope, receive, send):
        if scope["type"] != "http":
            return await inner(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and int(declared) > limit:
            return await _too_large(send, f"{int(declared)} bytes", limit)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                return await _too_large(send, f"over {limit} bytes", limit)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if problem := check(body):
            return await _refuse(send, 400, problem)
        whole = [{"type": "http.request", "body": body, "more_body": False}]

        async def replay():
            return whole.pop() if whole else await receive()

        return await inner(scope, replay, send)

    return guarded_app


async def _too_large(send, size: str, limit: int) -> None:
    message = f"request: {size}, expected at most {limit} ({MAX_ROWS} rows of z per request)"
    await _refuse(send, 413, message)


async def _refuse(send, status: int, message: str) -> None:
    body = json.dumps({"error_code": "BAD_REQUEST", "message": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
