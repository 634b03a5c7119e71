"""A real store (made by `joulebench run` on the fakes) as DataFrames, and the analyses of the
CLI from Python."""

import json
import shutil
import sqlite3

import pytest

import joulebench

EXPERIMENT = """
[experiment]
name = "python-store"
repetitions = 3
seed = 1

[[workload]]
name = "short"
command = ["sleep", "0.05"]

[[workload]]
name = "long"
command = ["sh", "-c", "echo 'JOULEBENCH_MARK begin work'; sleep 0.2; echo 'JOULEBENCH_MARK end work'"]

[[environment]]
name = "bare"
type = "bare"
"""


@pytest.fixture
def store(fakes):
    experiment = fakes.dir / "exp.toml"
    experiment.write_text(EXPERIMENT)
    db = fakes.dir / "runs.db"
    run = fakes.joulebench("run", str(experiment), "--db", str(db))
    assert run.returncode == 0, run.stderr
    return db


def test_runs_domains_and_phases_as_dataframes(store):
    pandas = pytest.importorskip("pandas")
    s = joulebench.open_store(store)
    assert isinstance(s.runs, pandas.DataFrame)
    assert len(s.runs) == 6
    assert set(s.runs["status"]) == {"done"}
    assert sorted(set(s.runs["workload"])) == ["long", "short"]
    assert (s.runs["energy_j"] > 0).all()
    assert set(s.domains["run_id"]) == set(s.runs["run_id"])
    assert {"gpu0", "package0"} <= set(s.domains["domain"])
    assert set(s.domains["method"]) == {"counter"}
    # The total of each run is the sum of its domains that count.
    counted = s.domains[s.domains["counts_in_total"]].groupby("run_id")["energy_j"].sum()
    for _, run in s.runs.iterrows():
        assert counted[run["run_id"]] == pytest.approx(run["energy_j"])
    # The long workload marks one phase per run (README "Markers").
    assert isinstance(s.phases, pandas.DataFrame)
    long_runs = set(s.runs[s.runs["workload"] == "long"]["run_id"])
    assert set(s.phases["run_id"]) == long_runs and set(s.phases["name"]) == {"work"}
    assert (s.phases["wall_s"] > 0.15).all() and (s.phases["energy_j"] > 0).all()


def test_a_store_without_marked_phases_gives_an_empty_frame(store, tmp_path):
    copy = tmp_path / "no-phases.db"
    shutil.copy(store, copy)
    db = sqlite3.connect(copy)
    db.execute("DELETE FROM run_marked_phases")
    db.commit()
    db.close()
    phases = joulebench.open_store(copy).phases
    assert len(phases) == 0


def test_analyze_is_the_clis_analysis(store, fakes):
    s = joulebench.open_store(store)
    ours = joulebench.analyze(s.runs, group="workload", value="energy_j", resamples=200)
    csv = fakes.dir / "runs.csv"
    rows = s.runs.to_dict("records") if hasattr(s.runs, "to_dict") else s.runs
    csv.write_text("workload,energy_j\n" +
                   "".join(f"{r['workload']},{r['energy_j']!r}\n" for r in rows))
    out = fakes.dir / "analysis.json"
    cli = fakes.joulebench("analyze", "--csv", str(csv), "--group", "workload", "--value",
                           "energy_j", "--resamples", "200", "--json", str(out))
    assert cli.returncode == 0, cli.stderr
    assert ours == json.loads(out.read_text())
    out_db = fakes.dir / "analysis-db.json"
    cli = fakes.joulebench("analyze", str(store), "--resamples", "200", "--json", str(out_db))
    assert cli.returncode == 0, cli.stderr
    assert s.analyze(resamples=200) == json.loads(out_db.read_text())


def test_analyze_names_bad_input(store):
    with pytest.raises(ValueError, match="row 1: energy_j = 'x' is not a number"):
        joulebench.analyze([{"g": "a", "energy_j": 1.0}, {"g": "a", "energy_j": "x"}],
                           group="g", value="energy_j")
    with pytest.raises(ValueError, match="no column 'nope'"):
        joulebench.analyze([{"g": "a", "energy_j": 1.0}], group="nope", value="energy_j")
    with pytest.raises(FileNotFoundError):
        joulebench.open_store(store.parent / "missing.db")
