"""The ``.part`` writers: order, hashing, back-pressure and errors, on real files and pipes."""

from __future__ import annotations

import errno
import hashlib
import os
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mastkit.download import _writer
from mastkit.download._writer import InlineWriter, PartWriter, open_writer

CHUNKS = st.lists(st.binary(min_size=0, max_size=5000), max_size=40)


@pytest.mark.parametrize("kind", [InlineWriter, PartWriter])
@settings(max_examples=40, deadline=None)
@given(prefix=st.binary(max_size=3000), chunks=CHUNKS)
def test_writes_every_chunk_in_order_and_hashes_it(tmp_path_factory, kind, prefix, chunks):
    path = tmp_path_factory.mktemp("w") / "f.part"
    path.write_bytes(prefix)  # a resumed .part: the writer appends after it
    digest = hashlib.sha256(prefix)
    with open(path, "ab") as f:
        writer = kind(f, digest)
        for chunk in chunks:
            writer.write(chunk)
        writer.close()
    body = b"".join(chunks)
    assert path.read_bytes() == prefix + body
    assert digest.hexdigest() == hashlib.sha256(prefix + body).hexdigest()
    assert writer.written == len(body)


def test_size_decides_the_writer(tmp_path):
    with open(tmp_path / "f", "wb") as f:
        assert isinstance(open_writer(f, hashlib.sha256(), 1000), InlineWriter)
        for expected in (None, _writer.BACKGROUND_MIN):
            writer = open_writer(f, hashlib.sha256(), expected)
            assert isinstance(writer, PartWriter)
            writer.close()


def test_a_slow_disk_pushes_back_without_losing_bytes():
    read_end, write_end = os.pipe()  # nobody reads yet: writes block once the pipe is full
    chunk = os.urandom(1 << 16)
    with os.fdopen(write_end, "wb", buffering=0) as sink:
        writer = PartWriter(sink, hashlib.sha256())
        queued = 0
        while writer.try_write(chunk):
            queued += 1
            assert queued <= _writer.QUEUE_CHUNKS + 4, "the queue never filled"
        received = bytearray()
        with os.fdopen(read_end, "rb", buffering=0) as source:
            writer.write(chunk)  # blocks until the reader below makes room
            queued += 1
            import threading

            closer = threading.Thread(target=writer.close)
            closer.start()
            while len(received) < queued * len(chunk):
                received += source.read(1 << 20)
            closer.join()
    assert bytes(received) == chunk * queued


@pytest.mark.skipif(sys.platform != "linux", reason="/dev/full is a Linux device")
def test_a_write_error_reaches_the_reader_and_drops_the_rest():
    with open("/dev/full", "wb", buffering=0) as full:
        writer = PartWriter(full, hashlib.sha256())
        with pytest.raises(OSError) as caught:
            for _ in range(1000):
                writer.write(b"x" * 4096)
            writer.close()
        assert caught.value.errno == errno.ENOSPC
        with pytest.raises(OSError):
            writer.close()  # still reported, and the thread has stopped
        assert writer.written == 0


def test_writeback_hints_do_not_disturb_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(_writer, "HINT_BYTES", 10_000)
    body = os.urandom(100_000)
    for kind in (InlineWriter, PartWriter):
        path: Path = tmp_path / kind.__name__
        with open(path, "wb") as f:
            writer = kind(f, hashlib.sha256(), hint=True)
            for i in range(0, len(body), 3000):
                writer.write(body[i : i + 3000])
            writer.close()
        assert path.read_bytes() == body
