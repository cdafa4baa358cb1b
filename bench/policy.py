"""What a native policy costs per step besides the model, and how big its requests get.

    .venv/bin/python bench/policy.py [--steps 20] [--history 0,1,2,4,8] [--json runs/bench-policy/report.json]

For every native profile, one turn is timed at a 1280x800 screenshot of real pages (HTML manuals
that ship with Debian packages, rendered in the system Chromium) with ``--history`` earlier
turns: building the conversation from the records (smart-resize of every screenshot sent),
encoding it for the wire (PNG, base64, JSON), the HTTP round trip on loopback, reading the
reply, checking and mapping its coordinates. Each timed turn gets a new current screenshot
(nothing cached for it); earlier screenshots are the same objects turn after turn, as in an
episode, so their resized and encoded forms are reused. The model is a loopback server that answers a
fixed click in the profile's grammar at once; the time it spends (reading the request, answering)
is measured on its side and taken out, so ``overhead`` is the runtime's own cost per step. The
CPU critic (rules + OCR evidence) on the same action is timed apart. Target: overhead under
50 ms median (the issue's budget). Request size: bytes on the wire and image tokens (the images'
grid cells) against the history length, per profile.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from critic.base import CRITICS, ReviewContext  # noqa: E402
from cua.core import StepRecord, Task, TurnRecord  # noqa: E402
from cua.policies.base import PolicyInput  # noqa: E402
from cua.policies.native import PROFILES, NativePolicy, NativeProfile  # noqa: E402
from grounding.backends.openai_compat import HttpChatModel  # noqa: E402

VIEWPORT = (1280, 800)
PAGES = ["/usr/share/doc/bzip2/manual.html", "/usr/share/doc/bc/bc.html",
         "/usr/share/doc/fontconfig/fontconfig-user.html", "/usr/share/doc/base-passwd/users-and-groups.html"]
REPLIES = {  # a click near the middle, in each grammar (coordinates: see _reply)
    "uitars": "Thought: Click the link.\nAction: click(point='<point>{x} {y}</point>')",
    "qwen": 'Action: Click the link.\n<tool_call>\n{{"name": "computer_use", "arguments": '
            '{{"action": "left_click", "coordinate": [{x}, {y}]}}}}\n</tool_call>',
    "opencua": "## Thought:\nClick the link.\n## Action:\nClick the link.\n## Code:\n```python\n"
               "pyautogui.click(x={x}, y={y})\n```",
}


class ReplyServer:
    """Loopback /v1/chat/completions answering at once; ``busy_s`` is its own time per request."""

    def __init__(self) -> None:
        self.reply = ""
        self.busy_s: list[float] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                t = time.perf_counter()
                body = self.rfile.read(int(self.headers["Content-Length"]))
                json.loads(body)
                payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": server.reply}}],
                                      "usage": {"prompt_tokens": 0, "completion_tokens": 0}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                server.busy_s.append(time.perf_counter() - t)

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()


def screenshots(n: int) -> list:
    """``n`` 1280x800 screenshots of Debian's HTML manuals, scrolled to different places."""
    from envs.browser import BrowserConfig, BrowserEnv

    pages = [p for p in PAGES if Path(p).exists()] or sorted(glob.glob("/usr/share/doc/*/*.html"))[:4]
    env = BrowserEnv(BrowserConfig(viewport=VIEWPORT, allowed_origins=["file://"]))
    shots = []
    try:
        for i in range(n):
            obs = env.reset(Task(id=f"bench/{i}", instruction="read", start_url="file://" + pages[i % len(pages)]))
            env.page.mouse.wheel(0, 600 * (i // len(pages)))
            shots.append(env.observe())
    finally:
        env.close()
    return shots


def _reply(profile: NativeProfile) -> str:
    w, h = profile.resized_size(*VIEWPORT)
    x, y = (w // 2, h // 2) if profile.space == "abs_resized" else (500, 500)
    return REPLIES[profile.layout].format(x=x, y=y)


def _input(observations: list, history: int, profile: NativeProfile) -> PolicyInput:
    """A step with ``history`` earlier turns, each its own screenshot and reply."""
    records, frames = [], {}
    for i in range(history):
        turn = TurnRecord(index=i, policy="bench", response=_reply(profile), summary="Click the link.")
        records.append(StepRecord(index=i, screenshot=f"step_{i:04d}.png", turn=turn, turn_index=i))
        frames[i] = observations[i % len(observations)].screenshot
    current = observations[history % len(observations)]
    return PolicyInput(task=Task(id="bench/t", instruction="Open the section about options."), observation=current,
                       history=records, frames=frames, screenshot_name=f"step_{history:04d}.png", turn_index=history,
                       steps_left=50)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=20, help="timed turns per profile and history length")
    ap.add_argument("--history", default="0,1,2,4,8", help="earlier turns in the request")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    histories = [int(h) for h in args.history.split(",")]
    console = Console()
    observations = screenshots(max(histories) + 1)
    server = ReplyServer()
    critic = CRITICS.make("cpu")
    rows: list[dict[str, Any]] = []
    with Progress(console=console, transient=True) as bar:
        job = bar.add_task("profiles", total=len(PROFILES) * len(histories))
        for profile in PROFILES:
            server.reply = _reply(profile)
            policy = NativePolicy(profile, HttpChatModel(server.url, "bench", api_key_env=None, retries=0))
            for history in histories:
                inp = _input(observations, history, profile)
                overhead, critic_ms, sizes = [], [], None
                for _ in range(args.steps + 2):  # two warm-up turns
                    # Each turn a new screenshot (a fresh copy: nothing cached for it), the
                    # earlier ones the same objects, as in an episode.
                    inp.observation = dataclasses.replace(inp.observation, screenshot=inp.observation.screenshot.copy())
                    server.busy_s.clear()
                    t = time.perf_counter()
                    turn = policy.act(inp)
                    total = time.perf_counter() - t
                    overhead.append((total - sum(server.busy_s)) * 1000)
                    t = time.perf_counter()
                    critic.review(ReviewContext(task=inp.task, observation=inp.observation,
                                                action=turn.proposals[0].action, turn=turn.record))
                    critic_ms.append((time.perf_counter() - t) * 1000)
                    sizes = turn.record.usage
                assert turn.record.error is None, turn.record.error
                overhead, critic_ms = overhead[2:], critic_ms[2:]
                rows.append({"profile": profile.name, "history": history, "images": sizes.images,
                             "image_tokens": sizes.image_tokens, "request_bytes": sizes.request_bytes,
                             "overhead_ms_median": round(statistics.median(overhead), 1),
                             "overhead_ms_p90": round(sorted(overhead)[int(0.9 * (len(overhead) - 1))], 1),
                             "critic_ms_median": round(statistics.median(critic_ms), 1),
                             "sent_size": list(profile.resized_size(*VIEWPORT))})
                bar.advance(job)
    table = Table(title=f"native policy overhead per step at {VIEWPORT[0]}x{VIEWPORT[1]} (model time excluded), "
                        f"{args.steps} turns each")
    for col in ("profile", "history", "images", "image tokens", "request KB", "overhead ms (median)",
                "p90", "vs 50 ms", "cpu critic ms"):
        table.add_column(col, justify="left" if col == "profile" else "right")
    for r in rows:
        table.add_row(r["profile"], str(r["history"]), str(r["images"]), str(r["image_tokens"]),
                      f"{(r['request_bytes'] or 0) / 1024:.0f}", f"{r['overhead_ms_median']:.1f}",
                      f"{r['overhead_ms_p90']:.1f}", f"{r['overhead_ms_median'] / 50:.2f}x",
                      f"{r['critic_ms_median']:.1f}")
    console.print(table)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"viewport": VIEWPORT, "steps": args.steps, "rows": rows}, indent=1))
        console.print(f"report: {args.json}")


if __name__ == "__main__":
    main()
