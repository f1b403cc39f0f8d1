"""axe-core inside the browser tests: inject the pinned engine into a page and assert no violations.

The engine is the ``axe.min.js`` that the pinned ``axe-playwright-python``
package ships (requirements/dev.txt), so nothing is fetched at run time. It is
evaluated through Playwright, which the page's Content-Security-Policy does
not govern. Call :func:`assert_no_axe_violations` at each state a test reaches.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

from playwright.sync_api import Page

# What axe checks: WCAG 2.0, 2.1 and 2.2 A and AA, and its best practices.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]

RUN_AXE = """async (tags) => {
  const results = await window.axe.run(document, {
    runOnly: { type: "tag", values: tags },
    resultTypes: ["violations"],
  });
  return results.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.map((n) => ({ target: n.target.join(" "), summary: n.failureSummary })),
  }));
}"""


@cache
def axe_source() -> str:
    """The pinned axe-core engine, as the package ships it."""
    return files("axe_playwright_python").joinpath("axe.min.js").read_text(encoding="utf-8")


def axe_version(page: Page) -> str:
    inject_axe(page)
    return str(page.evaluate("() => window.axe.version"))


def inject_axe(page: Page) -> None:
    """Make ``window.axe`` available in the page (once per document)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """What axe finds wrong in the page as it is now."""
    inject_axe(page)
    violations: list[dict[str, Any]] = page.evaluate(RUN_AXE, AXE_TAGS)
    return violations


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']}")
        lines += [f"    {node['target']}: {node['summary']}" for node in violation["nodes"]]
    return "\n".join(lines)


def assert_no_axe_violations(page: Page, state: str) -> None:
    """Fail with every violation axe finds, named by the state the page is in."""
    violations = axe_violations(page)
    assert not violations, f"axe found violations on the {state} state:\n{describe(violations)}"
