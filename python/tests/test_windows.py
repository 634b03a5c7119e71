"""Measurement windows against fake hardware with known power: energy, nesting, overlap."""

import json
import time

import pytest

import joulebench
from conftest import GPU_W, PACKAGE_W


def assert_energy(result, domain, power_w):
    d = result.domain(domain)
    expected = power_w * result.wall_s
    assert d["energy_j"] == pytest.approx(expected, rel=0.01), (domain, d, result.wall_s)


def test_window_measures_known_energy_with_measures_fields(fakes):
    with joulebench.window("epoch", gpus=[0]) as w:
        time.sleep(2.0)
    assert w.name == "epoch"
    assert w.command == ["epoch"]
    assert w.wall_s >= 2.0
    assert_energy(w, "gpu0", GPU_W)
    assert_energy(w, "package0", PACKAGE_W)
    assert w.domain("gpu0")["method"] == "counter"
    assert w.domain("package0")["method"] == "counter"
    assert w.energy_j == pytest.approx(sum(d["energy_j"] for d in w.domains
                                           if d["counts_in_total"]))
    assert w.edp_js == pytest.approx(w.energy_j * w.wall_s)
    # The same document as `joulebench measure --json`: the same keys, at every level.
    out = fakes.dir / "measure.json"
    measured = fakes.joulebench("measure", "-q", "--gpus", "0", "--json", str(out), "--", "true")
    assert measured.returncode == 0, measured.stderr
    document = json.loads(out.read_text())
    assert list(w.json) == list(document)
    assert [d["id"] for d in w.domains] == [d["id"] for d in document["domains"]]
    assert list(w.domains[0]) == list(document["domains"][0])
    assert list(w.gpus[0]) == list(document["gpus"][0])


def test_windows_share_one_monitor_per_selection(fakes):
    with joulebench.window("a", gpus=[0]):
        pass
    with joulebench.window("b", gpus=[0]):
        pass
    assert len(joulebench._monitors) == 1
    with joulebench.window("c", gpus="none") as c:
        pass
    assert len(joulebench._monitors) == 2
    assert [d["id"] for d in c.domains] == ["package0"]


def test_nested_and_overlapping_windows(fakes):
    m = joulebench.Monitor(interval_ms=50, gpus=[0])
    assert m.domains == ["gpu0", "package0"]
    m.begin("outer")
    m.begin("a")
    time.sleep(0.5)
    m.begin("b")
    assert m.open_windows == ["a", "b", "outer"]
    a = m.end("a")
    time.sleep(0.5)
    b = m.end("b")
    outer = m.end("outer")
    assert m.open_windows == []
    for r in (a, b, outer):
        assert_energy(r, "gpu0", GPU_W)
        assert r.domain("gpu0")["method"] == "counter"
    assert outer.wall_s > a.wall_s + b.wall_s - 0.1
    assert outer.energy_j > a.energy_j
    assert outer.energy_j > b.energy_j
    # A window shorter than ten update periods of a domain gets measure's short-run warning.
    with m.window("blink") as blink:
        pass
    assert "short-run" in blink.warning_codes
    m.close()
    with pytest.raises(ValueError, match="closed"):
        m.begin("late")


def test_window_ends_on_an_exception_and_names_are_checked(fakes):
    m = joulebench.Monitor(interval_ms=20, gpus="none")
    with pytest.raises(ZeroDivisionError):
        with m.window("failing") as w:
            1 / 0
    assert w.wall_s > 0 and m.open_windows == []
    with pytest.raises(AttributeError, match="has not ended yet"):
        with m.window("early") as early:
            early.energy_j
    m.begin("step")
    with pytest.raises(ValueError, match="already open"):
        m.begin("step")
    with pytest.raises(ValueError, match="open: 'step'"):
        m.end("epoch")
    with pytest.raises(AttributeError, match="no field 'nonsense'"):
        m.end("step").nonsense
    with pytest.raises(ValueError, match="at least 1 ms"):
        joulebench.Monitor(interval_ms=0)
    with pytest.raises(ValueError):
        joulebench.Monitor(gpus=[7])


def test_gpus_asked_for_but_unreadable_are_an_error(fakes, monkeypatch):
    monkeypatch.setenv("JOULEBENCH_NVML_LIBRARY", str(fakes.dir / "none.so"))
    with pytest.raises(ValueError, match="monitor: gpus 0: no GPU can be read here"):
        joulebench.Monitor(gpus=[0])
    # Without a GPU selection, no GPU is measured and nothing is refused.
    with joulebench.Monitor(gpus=None) as m:
        assert m.domains == ["package0"]
