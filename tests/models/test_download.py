"""fetch_weights against a local HTTP server (127.0.0.1, a thread): a good file, a dropped
connection resumed with Range, a server that ignores Range, a wrong checksum, and offline."""

from __future__ import annotations

import hashlib
import io
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from vidlearn.errors import ConfigError
from vidlearn.models import build_model, torchvision_state_dict
from vidlearn.models.download import DownloadError, fetch_weights, find_weights, resolve_weights, weights_dir, weights_path
from vidlearn.models.weights import WeightsEntry, WeightsFile, get_weights


class Server:
    """Serves `files` (name -> bytes). `drop_after[name] = n`: the next response for that file
    sends its full Content-Length but closes after n body bytes. `ignore_range`: answer 200."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.drop_after: dict[str, int] = {}
        self.ignore_range = False
        self.requests: list[tuple[str, str | None]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                name = self.path.lstrip("/")
                rng = self.headers.get("Range")
                outer.requests.append((name, rng))
                if name not in outer.files:
                    self.send_error(404)
                    return
                data = outer.files[name]
                start = int(rng.removeprefix("bytes=").split("-")[0]) if rng and not outer.ignore_range else 0
                if start >= len(data) and rng and not outer.ignore_range:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.end_headers()
                    return
                body = data[start:]
                self.send_response(206 if start else 200)
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                cut = outer.drop_after.pop(name, None)
                self.wfile.write(body if cut is None else body[:cut])
                self.wfile.flush()
                if cut is not None:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def entry(self, name: str, data: bytes, sha256: str | None = "full", *, folder: bool = False) -> WeightsEntry:
        self.files[name] = data
        digest = hashlib.sha256(data).hexdigest()
        sha = digest if sha256 == "full" else (digest[:8] if sha256 == "prefix" else sha256)
        base = get_weights("r3d_18.kinetics400")
        files = (WeightsFile(f"{self.url}/{name}", name, sha),)
        if folder:
            self.files["config.json"] = b'{"model_type": "test"}'
            files = (WeightsFile(f"{self.url}/config.json", "config.json"), *files)
        return WeightsEntry("test.weights", "r3d_18", files, 400, "Kinetics-400", base.preprocessing, "test")


@pytest.fixture()
def server() -> Iterator[Server]:
    srv = Server()
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()
    srv.thread.join(timeout=5)


def _checkpoint(width: int = 4) -> bytes:
    buf = io.BytesIO()
    torch.save(torchvision_state_dict(build_model("r3d_18", num_classes=400, width=width)), buf)
    return buf.getvalue()


@pytest.mark.timeout(60)
def test_good_file_is_verified_and_put_in_place(tmp_path: Path, server: Server) -> None:
    data = _checkpoint()
    entry = server.entry("r3d_18-test.pth", data)
    path = fetch_weights(entry, cache_dir=tmp_path, progress=True)
    assert path == tmp_path / "r3d_18-test.pth" and path.read_bytes() == data
    assert not list(tmp_path.glob("*.part"))
    assert fetch_weights(entry, cache_dir=tmp_path) == path and len(server.requests) == 1  # cached: no request
    model = build_model("r3d_18", num_classes=400, width=4, weights=path)
    assert model.weights_report.head == "loaded"

    prefixed = server.entry("prefixed.pth", data, "prefix")  # a torchvision-style sha256 prefix
    assert fetch_weights(prefixed, cache_dir=tmp_path, progress=False).read_bytes() == data


@pytest.mark.timeout(60)
def test_interrupted_transfer_resumes_with_range(tmp_path: Path, server: Server) -> None:
    data = _checkpoint()
    entry = server.entry("r.pth", data)
    server.drop_after["r.pth"] = 50_000
    path = fetch_weights(entry, cache_dir=tmp_path, progress=False)  # retried within the call
    assert path.read_bytes() == data
    assert server.requests == [("r.pth", None), ("r.pth", "bytes=50000-")]

    # with no retries the call fails, leaves the .part, and the next call resumes it
    again = server.entry("s.pth", data)
    server.drop_after["s.pth"] = 30_000
    with pytest.raises(DownloadError, match=r"s\.pth: download interrupted .*after 30000 bytes; run the command again to resume"):
        fetch_weights(again, cache_dir=tmp_path, progress=False, retries=0)
    assert (tmp_path / "s.pth.part").stat().st_size == 30_000 and not (tmp_path / "s.pth").exists()
    assert fetch_weights(again, cache_dir=tmp_path, progress=False, retries=0).read_bytes() == data
    assert server.requests[-1] == ("s.pth", "bytes=30000-") and not (tmp_path / "s.pth.part").exists()


@pytest.mark.timeout(60)
def test_server_ignoring_range_starts_over(tmp_path: Path, server: Server) -> None:
    data = _checkpoint()
    entry = server.entry("t.pth", data)
    (tmp_path / "t.pth.part").write_bytes(data[:1000])
    server.ignore_range = True
    assert fetch_weights(entry, cache_dir=tmp_path, progress=False).read_bytes() == data
    assert server.requests == [("t.pth", "bytes=1000-")]


@pytest.mark.timeout(60)
def test_wrong_checksum_is_refused_and_nothing_is_left(tmp_path: Path, server: Server) -> None:
    entry = server.entry("bad-0123abcd.pth", _checkpoint(), "0123abcd")
    with pytest.raises(DownloadError, match=r"bad-0123abcd\.pth: sha256 [0-9a-f]{16}\.\.\. does not match the published 0123abcd; the download was removed"):
        fetch_weights(entry, cache_dir=tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.timeout(60)
def test_folder_entry_downloads_every_file(tmp_path: Path, server: Server) -> None:
    entry = server.entry("pytorch_model.bin", _checkpoint(), folder=True)
    path = fetch_weights(entry, cache_dir=tmp_path, progress=False)
    assert path == tmp_path / "test.weights" and sorted(p.name for p in path.iterdir()) == ["config.json", "pytorch_model.bin"]
    assert find_weights(entry, cache_dir=tmp_path) == path


@pytest.mark.timeout(30)
def test_offline_fails_at_once_naming_url_and_path(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    entry = WeightsEntry(
        "x.w", "r3d_18", (WeightsFile(f"http://127.0.0.1:{port}/r3d_18-b3b3357e.pth", "r3d_18-b3b3357e.pth", "b3b3357e"),),
        400, "Kinetics-400", get_weights("r3d_18").preprocessing, "test",
    )  # fmt: skip
    with pytest.raises(DownloadError) as info:
        fetch_weights(entry, cache_dir=tmp_path, progress=False)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"http://127.0.0.1:{port}/r3d_18-b3b3357e.pth: cannot download")
    assert f"put it at {tmp_path / 'r3d_18-b3b3357e.pth'}" in message
    assert not list(tmp_path.glob("*.pth"))


def test_cache_location_and_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIDLEARN_HOME", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert weights_dir() == tmp_path / "xdg" / "vidlearn" / "weights"
    monkeypatch.setenv("VIDLEARN_HOME", str(tmp_path / "home"))
    assert weights_path("r3d_18.kinetics400") == tmp_path / "home" / "weights" / "r3d_18-b3b3357e.pth"
    assert weights_path("videomae_base.kinetics400") == tmp_path / "home" / "weights" / "videomae_base.kinetics400"
    with pytest.raises(ConfigError, match=r"run `vidlearn weights fetch mc3_18\.kinetics400`, or put .*mc3_18-a90a0ba3\.pth \(from https://download\.pytorch\.org/models/mc3_18-a90a0ba3\.pth\)"):
        resolve_weights("mc3_18.kinetics400")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # a file the torch hub already downloaded is used
    hub = tmp_path / "torch" / "hub" / "checkpoints" / "mc3_18-a90a0ba3.pth"
    hub.parent.mkdir(parents=True)
    hub.write_bytes(b"x")
    assert resolve_weights("mc3_18.kinetics400") == hub
    assert resolve_weights(str(hub)) == hub
