"""docs/findings.md and the README's results quote the benchmarks' results files: every bold figure in a row of
the claims table, or of the README's results table, appears in the results file that row links to (a figure
left behind when its file is rerun fails here); the findings stay short enough to scan."""
import re

import pytest
from helpers import ROOT

FINDINGS = ROOT / "docs" / "findings.md"


def rows_with_sources(text: str, heading: str) -> list[tuple[str, list[str], str]]:
    """The table rows under `heading` that link a results file: (the row, its bold figures, the file's text)."""
    section = text.split(heading, 1)[1]
    table = []
    for line in section.splitlines()[1:]:
        if line.startswith("#"):
            break
        if line.startswith("| ") and not line.startswith("|---"):
            table.append(line)
    out = []
    for line in table:
        links = re.findall(r"\]\((?:\.\./)?(benchmarks/results/[^)]+\.md)\)", line)
        if not links:
            continue
        figures = re.findall(r"\*\*([-+]?\d+(?:\.\d+)?)\*\*", line)
        out.append((line, figures, "\n".join((ROOT / link).read_text() for link in links)))
    return out


def test_every_bold_figure_of_the_claims_table_is_in_its_results_file():
    rows = rows_with_sources(FINDINGS.read_text(), "## The claims")
    assert len(rows) >= 10, "the claims table links its results files"
    for line, figures, source in rows:
        assert figures, f"a claim row with no bold figure: {line[:80]}"
        for figure in figures:
            assert figure in source, f"{figure} is not in the results file of: {line[:100]}"


def test_every_bold_figure_of_the_readmes_results_table_is_in_its_results_file():
    rows = rows_with_sources((ROOT / "README.md").read_text(), "## Current results")
    assert len(rows) >= 5
    for line, figures, source in rows:
        for figure in figures:
            assert figure in source, f"{figure} is not in the results file of: {line[:100]}"


def test_the_findings_are_short_and_open_with_the_claims():
    text = FINDINGS.read_text()
    assert len(text.splitlines()) <= 300
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings[0] == "## The claims"
    claims = rows_with_sources(text, "## The claims")
    for claim in ("three Double-DIPs", "softmax mask", "each stage", "video", "two mixtures", "one mixture",
                  "watermark", "nets (layer DIPs, mask) add", "nets add to dehazing"):
        assert any(claim in line for line, _, _ in claims) or claim in text.split("## Dehazing")[0], claim


@pytest.mark.parametrize("figure, source", [("4.69", "real_segmentation_test.md")])
def test_the_check_fails_on_a_figure_its_file_does_not_hold(figure, source, tmp_path):
    """The checker itself: a row quoting a figure that is not in its file is caught."""
    text = f"## The claims\n\n| a | **{figure}9** | [f](benchmarks/results/{source}) |\n"
    (line, figures, found), = rows_with_sources(text, "## The claims")
    assert figures == [f"{figure}9"] and f"{figure}9" not in found
