"""Redis clients that survive a Redis restart: a broken connection is reopened and retried.

``redis.asyncio.from_url`` builds its pool without a retry policy, so a command sent on a
connection Redis closed (a restart, an idle connection dropped by a proxy) fails once per
pooled connection, long after Redis came back. One such failure lost a node's answer to a
handover request in the full-scale fault run (docs/operations.md), and the candidate waited
for the request's timeout. These clients retry connection errors and timeouts three times,
reconnecting in between (exponential backoff, 50 ms to 1 s). The commands sent this way are
safe to repeat: publishes (events carry a seq, replies an id), lease sets and renewals
(compare-and-set scripts), stream adds (transcription jobs are deduplicated by their result).
"""

from __future__ import annotations

from typing import Any

RETRIES = 3


def _retry_policy(asynchronous: bool) -> dict[str, Any]:
    from redis.backoff import ExponentialBackoff
    from redis.exceptions import ConnectionError, TimeoutError

    if asynchronous:  # the asyncio client needs the asyncio Retry (it awaits each attempt)
        from redis.asyncio.retry import Retry as AsyncRetry

        retry: Any = AsyncRetry(ExponentialBackoff(cap=1.0, base=0.05), RETRIES)
    else:
        from redis.retry import Retry

        retry = Retry(ExponentialBackoff(cap=1.0, base=0.05), RETRIES)
    return {
        "retry": retry,
        "retry_on_error": [ConnectionError, TimeoutError],
        "health_check_interval": 30,  # an idle connection is pinged before it is used again
    }


def async_redis(url: str, **options: Any) -> Any:
    """A ``redis.asyncio.Redis`` for ``url`` that reconnects and retries (see the module)."""
    import redis.asyncio as aioredis

    return aioredis.from_url(url, **_retry_policy(True), **options)


def sync_redis(url: str, **options: Any) -> Any:
    """A blocking ``redis.Redis`` for ``url`` that reconnects and retries (see the module)."""
    import redis

    return redis.Redis.from_url(url, **_retry_policy(False), **options)
