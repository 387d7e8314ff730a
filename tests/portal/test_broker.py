"""The broker's Redis transport: kombu's own, sharing one client per channel."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings
from kombu import Connection

from portal.broker import Channel
from portal.celery import app

pytestmark = pytest.mark.redis


@pytest.fixture
def connection():
    with Connection(settings.CELERY_BROKER_URL, transport=settings.CELERY_BROKER_TRANSPORT) as conn:
        yield conn


def test_celery_publishes_through_the_portals_channel():
    with app.connection_for_write() as conn:
        assert isinstance(conn.default_channel, Channel)


def test_every_command_on_a_channel_goes_through_one_client(connection):
    channel = connection.default_channel

    with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
        assert first is second
        assert first.connection_pool is channel.pool


def test_a_client_passed_in_is_used_as_it_is(connection):
    channel = connection.default_channel
    mine = channel._create_client()

    with channel.conn_or_acquire(mine) as client:
        assert client is mine


def test_messages_published_through_the_channel_arrive_in_order(connection):
    name = f"test-broker-{uuid.uuid4().hex}"
    queue = connection.SimpleQueue(name)
    try:
        for number in range(3):
            queue.put({"number": number})

        received = [queue.get(timeout=2) for _ in range(3)]
        for message in received:
            message.ack()

        assert [m.payload for m in received] == [{"number": 0}, {"number": 1}, {"number": 2}]
        with pytest.raises(queue.Empty):
            queue.get(block=False)
    finally:
        queue.close()
        connection.default_channel.queue_delete(name)
