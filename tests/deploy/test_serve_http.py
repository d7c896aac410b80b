"""The service with the tools people point at it: multipart uploads (curl -F, Swagger UI, UploadFile)
give the same answer as the raw body; /openapi.json declares the bodies and answers; /docs works
with no internet (assets served locally, rendered by headless Chromium); Schemathesis finds no 5xx
and no answer outside the schema; the work limits refuse a long video before decoding."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from vidlearn.deploy.serve import ServeLimits, create_app
from vidlearn.io.write import write_video


def test_a_multipart_upload_gets_the_same_answer_as_the_raw_body(make_artifact, real_clip: Path) -> None:
    client = TestClient(create_app(make_artifact("r2plus1d_tiny")))
    body = real_clip.read_bytes()
    raw = client.post("/predict", params={"top_k": 2}, content=body, headers={"Content-Type": "application/octet-stream"})
    form = client.post("/predict", params={"top_k": 2}, files={"file": (real_clip.name, body, "video/mp4")})
    assert raw.status_code == 200 and form.status_code == 200, (raw.text, form.text)
    assert form.json()["path"] == real_clip.name  # the form's file name is echoed back
    assert form.json()["top_k"] == raw.json()["top_k"]
    # another field name works when the form holds one file; Swagger UI's timeline too
    other = client.post("/timeline", params={"stride": 1.0}, files={"video": ("x.mp4", body, "video/mp4")})
    assert other.status_code == 200 and len(other.json()["windows"]) >= 2
    # a form without a file, or with a broken one, gets the reason
    nofile = client.post("/predict", data={"note": "hello"}, files={"dummy": ("", b"", "text/plain")})
    assert nofile.status_code == 400 and "file" in nofile.json()["detail"]
    broken = client.post("/predict", files={"file": ("bad.mp4", b"\x00" * 3000, "video/mp4")})
    assert broken.status_code == 422 and broken.json()["detail"].startswith("bad.mp4:")
    bad_form = client.post("/predict", content=b"--x\r\nnot a form", headers={"Content-Type": "multipart/form-data; boundary=zz"})
    assert bad_form.status_code == 400


def test_a_multipart_upload_over_the_size_limit_is_413(make_artifact, real_clip: Path) -> None:
    client = TestClient(create_app(make_artifact("frame_cnn_small"), max_bytes=20_000))
    res = client.post("/predict", files={"file": (real_clip.name, real_clip.read_bytes(), "video/mp4")})
    assert res.status_code == 413 and "20000" in res.json()["detail"]


def test_openapi_declares_the_request_bodies_and_the_answers(make_artifact) -> None:
    spec = TestClient(create_app(make_artifact("frame_cnn_small"))).get("/openapi.json").json()
    for path in ("/predict", "/timeline"):
        op = spec["paths"][path]["post"]
        content = op["requestBody"]["content"]
        assert set(content) == {"application/octet-stream", "multipart/form-data"}
        assert content["multipart/form-data"]["schema"]["properties"]["file"]["format"] == "binary"
        assert {"200", "400", "408", "413", "422", "503"} <= set(op["responses"])
        assert "$ref" in op["responses"]["200"]["content"]["application/json"]["schema"]
    assert "PredictionOut" in spec["components"]["schemas"] and "TimelineOut" in spec["components"]["schemas"]


def test_docs_page_uses_only_local_assets(make_artifact) -> None:
    client = TestClient(create_app(make_artifact("frame_cnn_small")))
    page = client.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text) + re.findall(r"url: ?['\"]([^'\"]+)['\"]", page.text)
    assert urls and all(u.startswith("/") for u in urls), urls  # nothing from a CDN
    for u in urls:
        assert client.get(u).status_code == 200, u


def _chromium() -> str:
    for candidate in (os.environ.get("VIDLEARN_CHROMIUM"), "chromium", "chromium-browser", "/usr/bin/chromium"):
        if candidate and (found := shutil.which(candidate)):
            return found
    pytest.skip("chromium is not installed (Debian package 'chromium'; `make browser` installs it): /docs is not rendered")


def test_docs_render_in_headless_chromium_with_no_internet(make_artifact, live_server, tmp_path: Path) -> None:
    exe = _chromium()
    with live_server(create_app(make_artifact("frame_cnn_small"))) as url:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
               "--proxy-server=http://127.0.0.1:9", "--proxy-bypass-list=127.0.0.1",  # anything else: unreachable
               f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=15000", "--dump-dom", f"{url}/docs"]
        try:
            res = subprocess.run(cmd, capture_output=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)})
        except subprocess.TimeoutExpired:
            pytest.fail("chromium did not finish within 120 s")
    dom = res.stdout.decode("utf-8", errors="replace")
    assert res.returncode == 0, res.stderr.decode(errors="replace")[-2000:]
    assert "swagger-ui" in dom and "opblock" in dom, dom[:2000]  # Swagger UI drew the operations
    for path in ("/predict", "/timeline", "/health"):
        assert path in dom
    assert "Failed to load API definition" not in dom


def test_schemathesis_finds_no_server_error_and_no_answer_outside_the_schema(make_artifact, live_server) -> None:
    schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is in the test extra: pip install -e '.[test]'")
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    with live_server(create_app(make_artifact("frame_cnn_small"), max_bytes=200_000)) as url:
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        operations = [r.ok() for r in schema.get_all_operations()]
        assert {op.path for op in operations} == {"/health", "/predict", "/timeline", "/segments"}
        answers: list[int] = []
        for op in operations:

            @settings(max_examples=25, deadline=None, database=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
                      suppress_health_check=list(HealthCheck))
            @given(case=op.as_strategy())
            def fuzz(case) -> None:
                answers.append(case.call_and_validate(base_url=url, checks=checks, timeout=60).status_code)

            fuzz()
    assert len(answers) >= 40 and all(a < 500 for a in answers)
    assert 200 in answers and {400, 422} & set(answers), sorted(set(answers))  # valid and invalid requests were both made


def test_a_video_over_the_work_limits_is_refused_before_decoding(make_artifact, tmp_path: Path, monkeypatch) -> None:
    frames = np.random.default_rng(0).integers(0, 255, (40, 32, 32, 3), dtype=np.uint8)
    long = write_video(tmp_path / "ten_seconds.mp4", frames, fps=4.0)  # 40 frames, 10 s
    art = make_artifact("frame_cnn_small")
    ok = TestClient(create_app(art)).post("/predict", content=long.read_bytes())
    assert ok.status_code == 200, ok.text

    import vidlearn.predictors.deep as deep

    decoded = []
    monkeypatch.setattr(deep.DeepPredictor, "predict_video", lambda self, *a, **k: decoded.append(1))
    short = TestClient(create_app(art, limits=ServeLimits(max_seconds=5)))
    res = short.post("/predict", content=long.read_bytes())
    assert res.status_code == 413 and "10.0 s" in res.json()["detail"] and "at most 5 s" in res.json()["detail"]
    few = TestClient(create_app(art, limits=ServeLimits(max_frames=20)))
    res = few.post("/timeline", files={"file": ("v.mp4", long.read_bytes(), "video/mp4")})
    assert res.status_code == 413 and "more than 20 frames" in res.json()["detail"]
    assert decoded == []  # refused before the model decoded anything


def test_limits_come_from_options_then_environment_then_defaults() -> None:
    from vidlearn.errors import ConfigError

    env = {"VIDLEARN_SERVE_MAX_SECONDS": "120", "VIDLEARN_SERVE_MAX_QUEUE": "3"}
    limits = ServeLimits.resolve(env, max_queue=5, read_timeout=None)
    assert (limits.max_seconds, limits.max_queue, limits.read_timeout) == (120.0, 5, ServeLimits.read_timeout)
    with pytest.raises(ConfigError, match="VIDLEARN_SERVE_MAX_FRAMES='lots'"):
        ServeLimits.resolve({"VIDLEARN_SERVE_MAX_FRAMES": "lots"})
    for bad in ({"max_seconds": float("inf")}, {"max_queue": 0}, {"max_frames": 2.5}):
        with pytest.raises(ConfigError, match="--max-"):
            ServeLimits.resolve({}, **bad)


def test_cli_serve_refuses_a_bad_limit_in_one_line(make_artifact) -> None:
    import sys

    art = make_artifact("frame_cnn_small")
    res = subprocess.run([sys.executable, "-m", "vidlearn.cli", "serve", str(art), "--max-seconds", "-1"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "--max-seconds" in res.stderr
    res = subprocess.run([sys.executable, "-m", "vidlearn.cli", "serve", str(art)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "VIDLEARN_SERVE_READ_TIMEOUT": "soon"})
    assert res.returncode == 2 and "VIDLEARN_SERVE_READ_TIMEOUT" in res.stderr and "Traceback" not in res.stderr


def test_curl_form_upload_over_a_real_socket(make_artifact, real_clip: Path, live_server) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed: the `curl -F file=@video` upload is not tried")
    with live_server(create_app(make_artifact("frame_cnn_small"))) as url:
        res = subprocess.run([curl, "-sS", "--noproxy", "*", "-w", "\\n%{http_code}", "-F", f"file=@{real_clip}",
                              f"{url}/predict?top_k=2"], capture_output=True, text=True, timeout=120)
    body, _, code = res.stdout.rpartition("\n")
    assert code == "200", (res.stdout, res.stderr)
    answer = json.loads(body)
    assert answer["path"] == real_clip.name and len(answer["top_k"]) == 2
