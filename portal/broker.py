"""The Celery broker's Redis transport: kombu's own, with one Redis client per channel.

kombu's Redis channel builds a new ``redis.Redis`` object for every command it
sends outside its poll loop: two for each task published (the exchange's
bindings, then the LPUSH), each over the channel's same connection pool. With
redis-py 8, building one (it fills a table of 169 reply callbacks) costs about
as much CPU as sending the command, on every referral submit and claim. A
``redis.Redis`` over a connection pool is safe to share between threads, so
each channel builds it once. Selected by ``CELERY_BROKER_TRANSPORT`` in
``portal.settings.base`` when the broker is Redis.
"""

from __future__ import annotations

from contextlib import contextmanager

from kombu.transport import redis as kombu_redis
from kombu.utils.objects import cached_property


class Channel(kombu_redis.Channel):
    @cached_property
    def _command_client(self):
        """The client of every command sent outside the poll loop (kombu builds one per command)."""
        return self._create_client()

    @contextmanager
    def conn_or_acquire(self, client=None):
        yield client or self._command_client


class Transport(kombu_redis.Transport):
    Channel = Channel
