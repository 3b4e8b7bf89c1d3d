"""The headless commands, run as a user runs them: `python main.py …` in a subprocess."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, env=env, timeout=300)


@pytest.fixture(scope="module")
def controls(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "c.npz"
    r = cli("discover", "--model", "dcgan-faces", "--method", "ganspace", "--samples", "1500",
            "--components", "8", "--regression-samples", "1500", "--no-cache", "--quiet", "--out", str(out))
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["controls"] == 8 and summary["layer"] == "block1"
    return out


def test_models_and_methods_are_listed():
    r = cli("models", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)[0]["name"] == "dcgan-faces"
    r = cli("methods")
    assert r.returncode == 0 and "ganspace" in r.stdout and "--samples" in r.stdout


def test_render_imports_no_discovery_method_and_discover_still_finds_them(tmp_path):
    code = (
        "import sys; from cli.commands import run\n"
        f"assert run(['render', '--model', 'dcgan-faces', '--seed', '1', '--out', {str(tmp_path / 'f.png')!r}]) == 0\n"
        "print(sorted(m for m in sys.modules if m in ('methods.ganspace', 'methods.sefa', 'methods.latentclr',"
        " 'methods.warped', 'methods.voynov', 'methods.boundary')))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
    r = cli("discover", "--model", "dcgan-faces", "--method", "sefa", "--components", "3", "--no-cache", "--quiet",
            "--out", str(tmp_path / "c.npz"))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["controls"] == 3


def _discover_help_lines(monkeypatch) -> dict[str, str]:
    """``main.py discover --help``, one unwrapped line per option: ``{"--name": help}``."""
    monkeypatch.setenv("COLUMNS", "2000")  # argparse wraps at the terminal width
    r = cli("discover", "--help")
    assert r.returncode == 0, r.stderr
    lines: dict[str, str] = {}
    option = None
    for line in r.stdout.split("options:", 1)[1].splitlines():
        words = line.split()
        if words and words[0].startswith("-"):  # a new option; its help may start on the next line
            option = words[0]
            lines[option] = " ".join(words)
        elif words and option is not None:
            lines[option] += " " + " ".join(words)
    return lines


def test_discover_help_of_a_shared_option_names_each_method_with_its_own_default(monkeypatch):
    from methods.registry import METHODS

    lines = _discover_help_lines(monkeypatch)
    assert "[latentclr, warped, voynov] training iterations N (defaults latentclr: 600; warped: 300; voynov: 300)" \
        in lines["--iterations"]
    comp = lines["--components"]
    assert "[ganspace] number of components C kept (default 40)" in comp
    assert "[sefa] number of eigenvectors kept (default 40)" in comp
    assert "[latentclr] number of directions K (default 16)" in comp and "[voynov]" in comp and "[warped]" in comp
    assert "[lsd, latentclr] Adam learning rate (defaults lsd: 0.01; latentclr: 0.001)" in lines["--lr"]
    uses: dict[str, list[tuple[str, object]]] = {}
    for spec in METHODS.values():
        for name, _, default, _ in spec.options():
            uses.setdefault(name, []).append((spec.name, default))
    shared = {n: u for n, u in uses.items() if len(u) > 1}
    assert {"components", "iterations", "batch", "layer", "seed", "truncation"} <= set(shared)
    for name, methods in shared.items():
        parts = lines[f"--{name.replace('_', '-')}"].split(" | ")
        for method, default in methods:
            # the part of the help naming this method gives its own default
            (part,) = [p for p in parts if method in p[p.index("[") + 1: p.index("]")].split(", ")]
            assert f"{method}: {default!r}" in part or f"(default {default!r})" in part, (name, method, part)


def test_discover_options_left_out_take_the_chosen_methods_own_defaults():
    from cli.commands import discover_config
    from cli.parser import CliError, build_parser
    from methods.registry import METHODS

    parser, _ = build_parser()
    base = ["discover", "--model", "dcgan-faces", "--out", "c.npz", "--method"]
    for name, spec in METHODS.items():
        got, config = discover_config(parser.parse_args([*base, name]))
        assert got is spec and config == spec.config(), name
    # the shared --iterations: each trained method keeps its own default, a given value reaches any of them
    assert discover_config(parser.parse_args([*base, "latentclr"]))[1].iterations == 600
    assert discover_config(parser.parse_args([*base, "voynov"]))[1].iterations == 300
    assert discover_config(parser.parse_args([*base, "voynov", "--iterations", "7"]))[1].iterations == 7
    assert discover_config(parser.parse_args([*base, "sefa", "--components", "5"]))[1].components == 5
    with pytest.raises(CliError, match="--samples is not an option of latentclr"):
        discover_config(parser.parse_args([*base, "latentclr", "--samples", "5"]))


def test_settings_paper_fills_the_papers_values_for_the_model_and_given_options_win(faces):
    from cli.commands import discover_config
    from cli.parser import CliError, build_parser
    from methods.paper_settings import paper_settings

    parser, _ = build_parser()
    base = ["discover", "--model", "dcgan-faces", "--out", "c.npz", "--settings", "paper", "--method"]
    _, config = discover_config(parser.parse_args([*base, "warped"]), faces)
    assert (config.components, config.dipoles, config.batch, config.iterations) == (64, 128, 128, 120_000)
    _, config = discover_config(parser.parse_args([*base, "latentclr", "--iterations", "50"]), faces)
    assert config.iterations == 50 and config.components == paper_settings("latentclr", faces)["components"]
    with pytest.raises(CliError, match="ganspace has no published settings"):
        discover_config(parser.parse_args([*base, "ganspace"]))
    with pytest.raises(CliError, match="cannot be combined with --resume"):
        discover_config(parser.parse_args([*base, "voynov", "--resume", "somewhere"]))


def test_discover_at_paper_settings_runs_from_the_command_line(tmp_path):
    out = tmp_path / "v.npz"
    r = cli("discover", "--model", "dcgan-faces", "--method", "voynov", "--settings", "paper",
                "--iterations", "2", "--batch", "4", "--no-cache", "--quiet", "--out", str(out))
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["controls"] == 100  # K = dim z, the paper's choice
    bad = cli("discover", "--model", "dcgan-faces", "--method", "sefa", "--settings", "paper", "--out", str(out))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_methods_sharing_an_option_must_agree_on_its_type(monkeypatch):
    from dataclasses import dataclass

    from cli import parser as parser_mod
    from methods.registry import MethodSpec

    @dataclass(frozen=True)
    class A:
        steps: int = 3

    @dataclass(frozen=True)
    class B:
        steps: float = 0.5

    assert parser_mod.discover_options()["iterations"][0] is int  # the real registry agrees
    fake = {"a": MethodSpec("a", "", A, {}, print), "b": MethodSpec("b", "", B, {}, print)}
    monkeypatch.setattr(parser_mod, "METHODS", fake)
    with pytest.raises(TypeError, match="'steps' is int in a but float in b"):
        parser_mod.discover_options()


def test_render_with_preset_reproduces_the_same_png(controls, tmp_path):
    first, preset, second = tmp_path / "a.png", tmp_path / "p.json", tmp_path / "b.png"
    r = cli("render", "--model", "dcgan-faces", "--seed", "5", "--truncation", "0.9", "--controls", str(controls),
            "--set", "0=2.5", "--set", "2=-1.5", "--layers", "0=0:1", "--size", "128",
            "--save-preset", str(preset), "--out", str(first))
    assert r.returncode == 0, r.stderr
    r = cli("render", "--preset", str(preset), "--out", str(second))
    assert r.returncode == 0, r.stderr
    assert first.read_bytes() == second.read_bytes()
    assert cv2.imread(str(second)).shape == (128, 128, 3)
    plain = tmp_path / "plain.png"
    cli("render", "--model", "dcgan-faces", "--seed", "5", "--truncation", "0.9", "--size", "128", "--out", str(plain))
    assert plain.read_bytes() != first.read_bytes()  # the edits changed the frame


def test_export_writes_an_mp4_with_the_requested_frames_and_size(controls, tmp_path):
    out = tmp_path / "v.mp4"
    r = cli("export", "--model", "dcgan-faces", "--controls", str(controls), "--control", "0", "--sweep", "-3", "3",
            "--frames", "10", "--fps", "12", "--size", "96", "--quiet", "--out", str(out))
    assert r.returncode == 0, r.stderr
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 10
    assert (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))) == (96, 96)


def test_export_walk_writes_a_looping_seed_walk_and_refuses_one_seed(tmp_path):
    out = tmp_path / "walk.mp4"
    r = cli("export", "--model", "dcgan-faces", "--walk", "3,8", "--frames", "4", "--fps", "8", "--quiet", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert int(cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FRAME_COUNT)) == 8
    bad = cli("export", "--model", "dcgan-faces", "--walk", "3", "--out", str(tmp_path / "w.mp4"))
    assert bad.returncode == 2 and "two seeds" in bad.stderr and "Traceback" not in bad.stderr


def test_export_to_png_writes_a_strip_of_several_controls(controls, tmp_path):
    out = tmp_path / "strip.png"
    r = cli("export", "--model", "dcgan-faces", "--controls", str(controls), "--control", "0,1", "--frames", "4",
            "--quiet", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert cv2.imread(str(out)).shape == (2 * 64 + 2, 4 * 64 + 6, 3)


@pytest.mark.parametrize(
    "args, message",
    [
        (["render", "--model", "nope", "--out", "{tmp}/x.png"], "neither a model name"),
        (["render", "--model", "dcgan-faces", "--controls", "{tmp}/missing.npz", "--out", "{tmp}/x.png"], "does not exist"),
        (["render", "--model", "dcgan-faces", "--controls", "{controls}", "--set", "99=1", "--out", "{tmp}/x.png"], "control 99 does not exist"),
        (["render", "--model", "dcgan-faces", "--controls", "{controls}", "--layers", "0=0:5", "--out", "{tmp}/x.png"], "outside the model's layers"),
        (["render", "--model", "dcgan-faces", "--set", "0=abc", "--out", "{tmp}/x.png"], "not a number"),
        (["render", "--model", "dcgan-faces", "--out", "{tmp}/x.jpg"], "expected a .png"),
        (["render", "--model", "dcgan-faces", "--out", "{tmp}/no/such/folder/x.png"], "does not exist"),
        (["render", "--model", "dcgan-faces", "--save-preset", "{tmp}/p.txt", "--out", "{tmp}/x.png"], "--save-preset"),
        (["render", "--preset", "{tmp}/bad.json", "--out", "{tmp}/x.png"], "not valid JSON"),
        (["render", "--model", "dcgan-faces", "--class", "3", "--out", "{tmp}/x.png"], "not class-conditional"),
        (["render", "--model", "dcgan-faces", "--device", "tpu", "--out", "{tmp}/x.png"], "device"),
        (["discover", "--model", "dcgan-faces", "--method", "ganspace", "--layer", "conv9", "--out", "{tmp}/c.npz"], "layer 'conv9' does not exist"),
        (["discover", "--model", "dcgan-faces", "--method", "magic", "--out", "{tmp}/c.npz"], "invalid choice"),
        (["export", "--model", "dcgan-faces", "--controls", "{controls}", "--control", "0", "--out", "{tmp}/v.avi"], "expected a .mp4 or .png"),
        (["export", "--model", "dcgan-faces", "--controls", "{controls}", "--control", "0,1", "--out", "{tmp}/v.mp4"], "sweeps one control"),
        (["render", "--model", "{bad_model}", "--out", "{tmp}/x.png"], "truncated at byte"),
    ],
    ids=["model", "controls-missing", "set-index", "layer-range", "set-value", "out-suffix", "out-folder", "preset-suffix", "preset",
         "class", "device", "layer", "method", "export-suffix", "video-controls", "corrupt-checkpoint"],
)
def test_bad_input_is_one_line_exit_2_without_traceback_or_output(controls, tmp_path, args, message):
    (tmp_path / "bad.json").write_text("{oops")
    (tmp_path / "bad.pt").write_bytes(b"PK\x03\x04 not really a zip")
    args = [a.format(tmp=tmp_path, controls=controls, bad_model=tmp_path / "bad.pt") for a in args]
    before = set(tmp_path.iterdir())
    r = cli(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    assert set(tmp_path.iterdir()) == before  # no (partial) output file


def test_headless_commands_never_import_qt():
    code = (
        "import sys; from cli.commands import run; run(['models']);"
        "from editing import render, export, preset; import methods.ganspace;"
        "assert not [m for m in sys.modules if m.startswith(('PyQt6', 'pyqtgraph', 'app'))], 'Qt imported'"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
