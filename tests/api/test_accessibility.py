"""WCAG 2.1 AA checks of every page of every role in a real browser (Playwright driving
Debian's Chromium against the app on loopback).

(a) axe-core, when it is available: the `axe-playwright-python` package, or an axe.min.js
    named by $PLACEMENT_AXE_JS. Neither is installable offline here (no PyPI package in the
    local index, no npm), so that test skips with the reason; where it runs it asserts 0
    serious or critical violations.
(b) Our own checks, always: lang="da"; one h1; landmarks (banner, main, navigation when
    signed in); a skip link first; every input, select and textarea has an accessible name;
    every image and SVG a text alternative; aria-describedby points at something; text
    contrast at least 4.5:1 (3:1 for large text); no horizontal scrolling at 320 CSS px;
    a visible focus indicator on every element Tab reaches; and the family-approval form
    completed with the keyboard alone."""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import Env
from tests.api.test_browser import CHROMIUM, page_for, site

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (Debian package chromium)"
    ),
]
playwright_sync = pytest.importorskip("playwright.sync_api")
__all__ = ["site"]  # the app-on-loopback fixture, shared with test_browser

AXE_JS = os.environ.get("PLACEMENT_AXE_JS", "")
HAS_AXE_PACKAGE = importlib.util.find_spec("axe_playwright_python") is not None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


def pages_of(env: Env) -> dict[str, list[str]]:
    """Every page of every role (key name -> paths), with real ids from the test data."""
    cid = env.child_in("751")
    fam = next(f.family_id for f in env.dataset.families if f.kommune_code == "751")
    inst = next(i.institution_id for i in env.dataset.institutions if i.kommune_code == "751")
    return {
        "coordinator": [
            "/ui/children",
            f"/ui/children/{cid}",
            "/ui/children/new",
            f"/ui/children/{cid}/edit",
            f"/ui/children/{cid}/network",
            f"/ui/children/{cid}/follow-up",
            "/ui/schools?q=skole",
            "/ui/review",
            f"/ui/children/{cid}/recommendation",
        ],
        "consultant": [
            "/ui/capacity",
            "/ui/families/new",
            f"/ui/families/{fam}",
            f"/ui/families/{fam}/edit",
            "/ui/institutions/new",
            f"/ui/institutions/{inst}",
            f"/ui/institutions/{inst}/edit",
            "/ui/findes-ikke",
        ],
        "planner": ["/ui/batches", "/ui/whatif", "/ui/keyfigures"],
        "admin": ["/ui/admin"],
    }


# Our own checks, run in the page: a list of problems, empty when the page passes.
CHECKS_JS = r"""
() => {
  const problems = [];
  const visible = (el) => {
    const s = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    return s.display !== "none" && s.visibility !== "hidden" && (r.width > 0 || r.height > 0);
  };
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    (el.name ? "[name=" + el.name + "]" : "");
  if (document.documentElement.lang !== "da") problems.push("lang is not da");
  const h1 = document.querySelectorAll("h1");
  if (h1.length !== 1) problems.push("h1 count " + h1.length);
  if (!document.querySelector("main")) problems.push("no main landmark");
  if (!document.querySelector("body > header")) problems.push("no banner");
  if (document.querySelector(".signout") && !document.querySelector("nav[aria-label]"))
    problems.push("no named navigation");
  const first = document.querySelector("a, button, input:not([type=hidden]), select, textarea");
  if (!first || !first.classList.contains("skip")) problems.push("skip link is not first");
  const ids = {};
  for (const el of document.querySelectorAll("[id]")) {
    if (ids[el.id]) problems.push("duplicate id " + el.id);
    ids[el.id] = true;
  }
  const nameOf = (el) => {
    if (el.getAttribute("aria-label")) return el.getAttribute("aria-label").trim();
    const by = el.getAttribute("aria-labelledby");
    if (by) {
      const text = (i) => (document.getElementById(i) || {}).textContent || "";
      return by.split(/\s+/).map(text).join(" ").trim();
    }
    if (el.id) {
      const l = document.querySelector('label[for="' + CSS.escape(el.id) + '"]');
      if (l && l.textContent.trim()) return l.textContent.trim();
    }
    const wrap = el.closest("label");
    if (wrap && wrap.textContent.trim()) return wrap.textContent.trim();
    return (el.getAttribute("title") || "").trim();
  };
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (el.type === "hidden") continue;
    if (!nameOf(el)) problems.push("no accessible name: " + describe(el));
  }
  for (const el of document.querySelectorAll("button")) {
    if (!(el.getAttribute("aria-label") || el.textContent.trim()))
      problems.push("button without a name");
  }
  for (const el of document.querySelectorAll("[aria-describedby]")) {
    for (const id of el.getAttribute("aria-describedby").split(/\s+/)) {
      if (!document.getElementById(id)) problems.push("aria-describedby to missing " + id);
    }
  }
  for (const img of document.querySelectorAll("img")) {
    if (!img.hasAttribute("alt")) problems.push("img without alt");
  }
  for (const svg of document.querySelectorAll("svg")) {
    if (svg.closest("[aria-hidden=true]") || svg.parentElement.closest("svg")) continue;
    const labelled = svg.getAttribute("role") === "img" &&
      (svg.getAttribute("aria-label") || svg.getAttribute("aria-labelledby") ||
       svg.querySelector(":scope > title"));
    if (!labelled) problems.push("svg without a text alternative");
  }
  // Contrast of text against its effective background.
  const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.9)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const seen = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const el = node.parentElement;
    if (!node.textContent.trim() || !el || seen.has(el) || el.closest("svg")) continue;
    seen.add(el);
    if (!visible(el) || el.closest(".visually-hidden")) continue;
    const s = getComputedStyle(el);
    const fg = rgb(s.color).slice(0, 3);
    const bg = background(el);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const size = parseFloat(s.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(s.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5))
      problems.push(
        "contrast " + ratio.toFixed(2) + " of '" + node.textContent.trim().slice(0, 30) + "'");
  }
  return problems;
}
"""

FOCUS_JS = r"""
() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const s = getComputedStyle(el);
  const ring = (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0) ||
    (s.boxShadow && s.boxShadow !== "none");
  return {tag: el.tagName.toLowerCase(), id: el.id, name: el.getAttribute("name"), ring: ring};
}
"""

# What sticks out past the right edge (the innermost elements), to name the culprit.
WIDE_JS = r"""
() => [...document.querySelectorAll("body *")]
  .filter((e) => e.getBoundingClientRect().right > 321 && !e.closest(".table-scroll"))
  .filter((e) => ![...e.children].some((c) => c.getBoundingClientRect().right > 321))
  .slice(0, 5)
  .map((e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + "." + e.className)
"""


def check_page(page: Any, path: str) -> list[str]:
    """Our checks of one page at desktop width, its focus ring and its reflow at 320 px."""
    page.set_viewport_size({"width": 1280, "height": 900})
    response = page.goto(path)
    assert response is not None and response.status in (200, 404), (path, response.status)
    problems = [f"{path}: {p}" for p in page.evaluate(CHECKS_JS)]
    page.locator("body").click(position={"x": 1, "y": 1})
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); }")
    for step in range(12):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUS_JS)
        if focused is None:
            break
        if step == 0 and focused["tag"] != "a":
            problems.append(f"{path}: the first Tab does not reach the skip link")
        if not focused["ring"]:
            problems.append(f"{path}: no visible focus on {focused}")
    page.set_viewport_size({"width": 320, "height": 800})
    page.goto(path)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    if width > 320:
        wide = page.evaluate(WIDE_JS)
        problems.append(f"{path}: scrolls sideways at 320 px ({width} px wide): {wide}")
    return problems


def test_every_page_of_every_role_passes_our_checks(env: Env, site: str, browser: Any) -> None:
    problems: list[str] = []
    login = browser.new_context(base_url=site).new_page()
    problems += check_page(login, "/ui/login")
    for role, paths in pages_of(env).items():
        page = page_for(browser, site, env.keys[role])
        for path in paths:
            problems += check_page(page, path)
    assert not problems, "\n".join(problems)


def test_our_checks_find_the_faults_they_look_for(browser: Any) -> None:
    """The checks themselves fail on a page with the faults (so a pass means something)."""
    page = browser.new_page(viewport={"width": 320, "height": 600})
    page.set_content(
        '<html lang="en"><body><h1>A</h1><h1>B</h1><main>'
        '<input name="q"><select name="s"><option>x</option></select>'
        '<p style="color:#aaa">faint text</p><svg width="10" height="10"></svg>'
        '<img src="data:,"><div style="width:900px">wide</div>'
        '<a href="#" id="d">x</a><a href="#" id="d" style="outline:none">y</a>'
        "</main></body></html>"
    )
    found = " | ".join(page.evaluate(CHECKS_JS))
    for fault in (
        "lang is not da",
        "h1 count 2",
        "no banner",
        "skip link is not first",
        "duplicate id d",
        "no accessible name: input[name=q]",
        "no accessible name: select[name=s]",
        "contrast",
        "svg without a text alternative",
        "img without alt",
    ):
        assert fault in found, fault
    assert page.evaluate("() => document.documentElement.scrollWidth") > 320
    page.close()


def test_the_family_form_can_be_completed_with_the_keyboard_alone(
    env: Env, site: str, browser: Any
) -> None:
    page = page_for(browser, site, env.keys["consultant"])
    page.goto("/ui/families/new")
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    typed = {
        "family_id": "tastatur1",
        "postcode": "8000",
        "places": "2",
        "max_age": "17",
    }
    chosen = {"level": "s"}  # a closed select takes the first letter: specialiseret
    boxes = {"attachment", "trauma", "acute"}
    done = False
    for _ in range(120):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => { const e = document.activeElement; return {tag: e.tagName.toLowerCase(), "
            "name: e.getAttribute('name'), value: e.value, type: e.type, "
            "text: e.textContent.trim()} }"
        )
        name = focused["name"]
        if focused["tag"] == "input" and name in typed:
            page.keyboard.press("Control+A")
            page.keyboard.type(typed.pop(name))
        elif focused["tag"] == "select" and name in chosen:
            page.keyboard.type(chosen.pop(name))
        elif focused["type"] == "checkbox" and (focused["value"] in boxes or name in boxes):
            page.keyboard.press("Space")
        elif focused["tag"] == "button" and focused["text"] == "Godkend familien":
            assert not typed and not chosen, (typed, chosen)
            page.keyboard.press("Enter")
            done = True
            break
    assert done, "the submit button was never reached with Tab"
    page.wait_for_url("**/ui/families/tastatur1?message=*")
    assert page.get_by_role("heading", name="Plejefamilie tastatur1").is_visible()
    api = env.client.get("/v1/families/tastatur1", headers=env.auth("consultant")).json()
    assert api["level"] == "specialiseret" and api["places"] == 2 and api["max_age"] == 17
    assert set(api["target_groups"]) == {"attachment", "trauma"} and api["acute"] is True


def _axe_results(page: Any) -> list[dict[str, Any]]:
    if AXE_JS and Path(AXE_JS).is_file():
        page.add_script_tag(content=Path(AXE_JS).read_text(encoding="utf-8"))
        found = page.evaluate(
            "async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', "
            "'wcag21a', 'wcag21aa']})).violations"
        )
        return list(found)
    from axe_playwright_python.sync_playwright import Axe

    return list(Axe().run(page).response["violations"])


@pytest.mark.skipif(
    not HAS_AXE_PACKAGE and not (AXE_JS and Path(AXE_JS).is_file()),
    reason="axe-core is not available offline here: install axe-playwright-python or set "
    "PLACEMENT_AXE_JS to an axe.min.js to run it (our own checks run regardless)",
)
def test_axe_finds_no_serious_or_critical_violations(env: Env, site: str, browser: Any) -> None:
    serious: list[str] = []
    for role, paths in pages_of(env).items():
        signed = page_for(browser, site, env.keys[role])
        # The pages forbid scripts (CSP); axe is injected into a context that bypasses it.
        context = browser.new_context(base_url=site, bypass_csp=True)
        context.add_cookies(signed.context.cookies())
        page = context.new_page()
        for path in paths:
            page.goto(path)
            for v in _axe_results(page):
                if v.get("impact") in ("serious", "critical"):
                    nodes = [n.get("target") for n in v.get("nodes", [])][:3]
                    serious.append(f"{role} {path}: {v['id']} {json.dumps(nodes)}")
    assert not serious, "\n".join(serious)
