"""The compare report: world x metric tables over seeds and the contribution lines, in text and Markdown."""

from replay.report import (
    contribution,
    contribution_lines,
    contributions,
    render_contributions,
    seed_summary,
    seed_tables,
    with_protection_cost,
)


def _result(loss: float, fell: float = 0.0) -> dict:
    return {
        "trips": [],
        "halted_s": 0,
        "wrongful_borrower_loss_usd": loss,
        "wrongful_borrowers": 1 if loss else 0,
        "wrongful_seized_usd": 2 * loss,
        "bad_debt_usd": fell,
        "bad_debt_by_cause": {"price_fell": fell, "dislocation": 0.0},
    }


RUNS = {
    "none": {0: _result(1_000, fell=10), 1: _result(2_000, fell=10), 2: _result(0)},
    "composite": {0: _result(0, fell=50), 1: _result(500), 2: _result(0)},
}


def test_contribution_lines__a_missing_world_says_so():
    text = contribution_lines(RUNS)
    assert "breaker alone (breaker-only vs none)" in text
    lines = {line.strip().split("  ")[0]: line for line in text.splitlines()[1:]}
    assert "n/a (world not in this run): breaker-only" in lines["breaker alone (breaker-only vs none)"]
    assert (
        "n/a (world not in this run): band-only"
        in lines["breaker on top of the band (composite vs band-only)"]
    )
    # composite vs none is there: shares 100% and 75% on the two seeds where none lost anything
    assert "87.5% [76.2%, 98.8%] of none's loss" in lines["composite vs none"]
    assert "2 of 3 seeds with a loss" in lines["composite vs none"]


def test_contribution__paired_by_seed():
    c = contribution(RUNS, "none", "composite")
    assert c["prevented_usd"]["median"] == 1_000  # 1,000, 1,500, 0
    assert c["prevented_share"]["n"] == 2
    assert contribution(RUNS, "none", "breaker-only") == {"missing": "breaker-only"}


def test_with_protection_cost__price_fell_bad_debt_beyond_none_on_the_same_seed():
    runs = with_protection_cost(RUNS | {"band-only": {0: _result(0, fell=4), 5: _result(0, fell=4)}})
    assert [runs["composite"][s]["protection_cost_usd"] for s in (0, 1, 2)] == [40, 0, 0]
    assert runs["none"][0]["protection_cost_usd"] == 0
    assert runs["band-only"][0]["protection_cost_usd"] == 0  # less than none's is no cost
    assert runs["band-only"][5]["protection_cost_usd"] is None  # none did not run seed 5


def test_seed_tables__every_world_with_median_and_range():
    summary = seed_summary(with_protection_cost(RUNS))
    assert summary["none"]["wrongful_borrower_loss_usd"] == {"median": 1_000, "p5": 100, "p95": 1_900, "n": 3}
    text = seed_tables(summary)
    assert "1k [100, 1.9k]" in text
    assert text.splitlines()[0] == "harm to borrowers (median [5%, 95%] over seeds)"


def test_seed_tables__markdown_has_the_same_cells_as_the_terminal():
    summary = seed_summary(with_protection_cost(RUNS))
    text, md = seed_tables(summary), seed_tables(summary, markdown=True)
    assert md.splitlines()[0] == "**harm to borrowers (median [5%, 95%] over seeds)**"
    assert md.splitlines()[2] == (
        "| world | seeds | wrongful loss USD | wrongful borrowers | seized USD (gross) | trips | halted s |"
    )
    assert "| none | 3 | 1k [100, 1.9k] | 1 [0, 1] | 2k [200, 3.8k] | 0 | 0 |" in md
    for line in md.splitlines():
        if line.startswith("| none |") or line.startswith("| composite |"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            assert all(cell in text for cell in cells)  # each figure as the terminal shows it


def test_render_contributions__markdown_from_a_summary_matches_the_lines():
    from_summary = render_contributions(contributions(RUNS), markdown=True)
    lines = from_summary.splitlines()
    assert lines[2] == "- breaker alone (breaker-only vs none): n/a (world not in this run): breaker-only"
    assert lines[5].startswith("- composite vs none: 87.5% [76.2%, 98.8%] of none's loss (\\$1,000 [")
    assert render_contributions(contributions(RUNS)) == contribution_lines(RUNS)


def test_contribution_text__a_loss_on_few_seeds_is_dollars_not_a_share():
    # none lost $1 on one seed of four; band-only lost thousands on every seed: a share would be -99,900%
    runs = {
        "none": {0: _result(1), 1: _result(0), 2: _result(0), 3: _result(0)},
        "band-only": {s: _result(1_000) for s in range(4)},
    }
    line = next(x for x in contribution_lines(runs).splitlines() if "band alone" in x)
    assert "%" not in line
    assert "no share: none lost nothing on 3 of 4 seeds; -$1,000 [-$1,000, -$999] per seed prevented" in line


def test_render_contributions__a_summary_without_a_contribution_says_so():
    text = render_contributions({}, markdown=True)
    assert text.count("n/a (not in this summary)") == 4


def test_venue_label__names_the_data_file_or_says_it_is_the_scenario_s_path():
    from replay.report import venue_label
    from replay.scenario import SeriesSpec

    assert venue_label(SeriesSpec(csv="../data/cost-side/usde_repriced_1m.csv", time="t")) == (
        "venue (usde_repriced_1m)"
    )
    assert venue_label(SeriesSpec(points=[(0, 1.0)])) == "venue (the scenario's price path)"
