"""Client frames written by hand are exactly what a server's wsproto reads back as one whole message."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, BytesMessage, Request, TextMessage

from clobactors.transport.ws_frames import client_frame


def _server() -> WSConnection:
    client, server = WSConnection(ConnectionType.CLIENT), WSConnection(ConnectionType.SERVER)
    server.receive_data(client.send(Request(host="example.com", target="/")))
    list(server.events())
    server.send(AcceptConnection())
    return server


@settings(max_examples=150, deadline=None)
@given(
    st.one_of(
        st.text(max_size=300),
        st.binary(max_size=300),
        st.sampled_from([125, 126, 127, 65535, 65536, 70000]).map(lambda n: "é" * (n // 2) + "x" * (n % 2)),
    )
)
def test_a_frame_reads_back_as_the_message(message: str | bytes) -> None:
    server = _server()
    frame = client_frame(message)
    assert frame[1] & 0x80  # masked, as RFC 6455 § 5.3 requires of a client
    server.receive_data(frame)
    events = list(server.events())
    if isinstance(message, str):
        assert all(isinstance(e, TextMessage) for e in events)
        assert "".join(e.data for e in events if isinstance(e, TextMessage)) == message
    else:
        assert all(isinstance(e, BytesMessage) for e in events)
        assert b"".join(e.data for e in events if isinstance(e, BytesMessage)) == message
    last = events[-1]
    assert isinstance(last, TextMessage | BytesMessage) and last.message_finished


def test_each_frame_has_a_fresh_masking_key() -> None:
    keys = {client_frame("same")[2:6] for _ in range(8)}
    assert len(keys) > 1
