"""What a failed HTTP request says about itself, for every platform client.

Whether a request may have reached the server decides between "nothing was
sent, try again" (``NetworkError``) and "it may have taken effect, look before
sending again" (``UncertainError``): getting it wrong either blocks a retry
that was safe or risks a duplicate post.
"""

from __future__ import annotations

import requests
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

# Failures requests raises before anything is sent (a malformed address or header).
UNSENDABLE = (requests.exceptions.InvalidURL | requests.exceptions.MissingSchema
              | requests.exceptions.InvalidSchema | requests.exceptions.InvalidHeader
              | requests.exceptions.URLRequired)


def was_sent(err: requests.RequestException) -> bool:
    """Whether the request may have reached the server (``False`` only when it surely
    did not: DNS, connection refused, connect timeout, TLS, proxy, a malformed URL)."""
    if isinstance(err, requests.ConnectTimeout | requests.exceptions.SSLError
                  | requests.exceptions.ProxyError | UNSENDABLE):
        return False
    if isinstance(err, requests.ConnectionError):
        reason = err.args[0] if err.args else None
        reason = getattr(reason, "reason", reason)  # MaxRetryError wraps the cause
        return not isinstance(reason, NewConnectionError | NameResolutionError
                              | ConnectTimeoutError)
    return True


def network_reason(err: requests.RequestException) -> str:
    """Why the request could not be sent, in a few words for a message."""
    reason = err.args[0] if err.args else err
    reason = getattr(reason, "reason", reason)
    if isinstance(reason, NameResolutionError):
        return "the host name could not be resolved"
    # urllib3's NewConnectionError is a subclass of ConnectTimeoutError: test it first.
    if isinstance(reason, NewConnectionError) and "timed out" not in str(reason):
        return "the connection was refused (is the server at that address running?)"
    if isinstance(reason, ConnectTimeoutError) or isinstance(err, requests.ConnectTimeout):
        return "the connection timed out"
    if isinstance(err, requests.exceptions.SSLError):
        return "the secure (TLS) connection failed"
    if isinstance(err, requests.exceptions.ProxyError):
        return "the proxy failed"
    if isinstance(err, requests.exceptions.InvalidHeader):
        return "a header of the request is not valid"
    if isinstance(err, UNSENDABLE):
        return "the address is not a valid URL"
    return type(reason).__name__
