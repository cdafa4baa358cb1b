"""`cua eval --audit`: a second grader re-scores every finished episode and the report lists
false positives / false negatives of the benchmark's score.

The judge is a hosted VLM API (e.g. an OpenAI model), which cannot exist here: a loopback HTTP
server stands in for it, speaking the OpenAI chat-completions protocol, answering by what the
instruction asks. Everything else is real: the run (Chromium, MiniWoB++), the HTTP client, the
final screenshots sent as data URLs, the parsing of the untrusted replies."""

from __future__ import annotations

import base64
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

from PIL import Image
from typer.testing import CliRunner

from cua.audit import audit_run, parse_judgment
from cua.batch import run_batch
from cua.stack import Stack
from cua.cli import app

# by instruction: click-button-sequence (benchmark: failure in one step) → judge says done;
# click-test (benchmark: success) → judge says not done; click-button → judge cannot tell.
REPLIES = {"ONE": '{"success": true, "reason": "both buttons look pressed"}',
           "Click the button.": "No, the button was never clicked.",
           "button.": "I cannot tell from this image."}


class _HostedJudge(BaseHTTPRequestHandler):
    seen: list[dict] = []

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        parts = body["messages"][-1]["content"]
        text = next(p["text"] for p in parts if p["type"] == "text")
        url = next(p["image_url"]["url"] for p in parts if p["type"] == "image_url")
        image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
        self.seen.append({"text": text, "size": image.size, "path": self.path})
        instruction = text.split("\n")[1]
        reply = next(r for key, r in REPLIES.items() if key in instruction)
        data = json.dumps({"choices": [{"message": {"role": "assistant", "content": reply}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_parse_judgment_reads_json_or_yes_no_and_nothing_else():
    assert parse_judgment('sure: {"success": false, "reason": "no"}') == (False, "no")
    assert parse_judgment("Yes, it is done")[0] is True
    assert parse_judgment('{"success": "maybe"}')[0] is None
    assert parse_judgment("__import__('os')")[0] is None


def test_audit_lists_false_positives_and_negatives(tmp_path):
    run_dir = tmp_path / "run"
    run_batch("miniwob/click-test,click-button,click-button-sequence", Stack(max_steps=1), run_dir,
              seeds=[0], workers=1, show_progress=False)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HostedJudge)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        grader = f"vlm:backend=http,path=http://127.0.0.1:{server.server_address[1]},model=judge,retries=0"
        r = CliRunner().invoke(app, ["eval", "--resume", str(run_dir), "--audit", grader, "--no-progress"])
    finally:
        server.shutdown()
    assert r.exit_code == 0, r.output
    assert len(_HostedJudge.seen) == 3 and all(s["path"] == "/v1/chat/completions" for s in _HostedJudge.seen)
    assert all(s["size"][0] > 100 for s in _HostedJudge.seen)  # the final screenshots went along
    audit = json.loads((run_dir / "audit.json").read_text())
    kinds = {i["task_id"]: i["kind"] for i in audit["items"]}
    assert kinds == {"miniwob/click-test": "false_positive", "miniwob/click-button-sequence": "false_negative",
                     "miniwob/click-button": "undecided"}
    assert (audit["agree"], audit["false_positive"], audit["false_negative"], audit["undecided"]) == (0, 1, 1, 1)
    md = (run_dir / "audit.md").read_text()
    assert "| miniwob/click-test | 0 | success | not done | false_positive |" in md


class _FlakyJudge(BaseHTTPRequestHandler):
    """A hosted judge (stand-in, see the module docstring) whose 2nd request fails with HTTP 500."""

    requests: ClassVar[int] = 0
    images: ClassVar[list[tuple[int, int]]] = []

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests += 1
        if type(self).requests == 2:
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        url = next(p["image_url"]["url"] for p in body["messages"][-1]["content"] if p["type"] == "image_url")
        self.images.append(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).size)
        data = json.dumps({"choices": [{"message": {"role": "assistant",
                                                     "content": '{"success": true, "reason": "done"}'}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_a_failed_judge_call_is_undecided_and_a_rerun_judges_only_what_is_left(tmp_path):
    run_dir = tmp_path / "run"
    run_batch("miniwob/click-test", Stack(max_steps=1), run_dir, seeds=[0, 1, 2, 3], workers=1,
              show_progress=False)
    folders = sorted(p.parent for p in (run_dir / "episodes").glob("*/result.json"))
    assert len(folders) == 4

    def doctor(folder, **fields) -> None:  # a run folder is data: edited by hand, or by an attacker
        path = folder / "result.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), **fields}))

    doctor(folders[2], status="error", error="ActionParseError: x", error_kind="agent")  # not scored: not audited
    doctor(folders[3], final_screenshot="../../../../etc/hostname")  # must never be sent
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FlakyJudge)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    grader = f"vlm:backend=http,path=http://127.0.0.1:{server.server_address[1]},model=judge,retries=0"
    try:
        first = audit_run(run_dir, grader, show_progress=False)
        saved = json.loads((run_dir / "audit.json").read_text())
        second = audit_run(run_dir, grader, show_progress=False)
    finally:
        server.shutdown()
    by_folder = {i.folder: i for i in first.items}
    assert sorted(by_folder) == [folders[0].name, folders[1].name, folders[3].name]  # the error is left out
    assert by_folder[folders[0].name].kind == "agree"
    assert by_folder[folders[1].name].judge_failed and by_folder[folders[1].name].kind == "undecided"
    assert "HTTP 500" in by_folder[folders[1].name].reason
    assert by_folder[folders[3].name].kind == "undecided" and "refused" in by_folder[folders[3].name].reason
    assert saved["complete"] and saved["judge_failed"] == 1 and saved["undecided"] == 2
    # the re-run asked only about the episode whose judge call failed: 2 + 1 requests in all
    assert _FlakyJudge.requests == 3 and len(_FlakyJudge.images) == 2
    assert {i.folder: i.kind for i in second.items} == {folders[0].name: "agree", folders[1].name: "agree",
                                                        folders[3].name: "undecided"}
    assert json.loads((run_dir / "audit.json").read_text())["judge_failed"] == 0
