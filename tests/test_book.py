"""The built book, opened page by page in a real browser (headless Chromium via Playwright).

``make test`` builds the book first (``make book``); this module builds nothing.  Every page
under ``_build/html`` (but the search and index pages and the static assets) is served from a
local ``http.server`` and opened in Debian's Chromium (``/usr/bin/chromium``, installed by
``make browser``).  A page fails on:

* a JavaScript error or a console error, a failed or 4xx/5xx request, and any request to a
  host other than this local server (the book must be readable offline);
* raw TeX left in the text (``$$``, ``\\(``, ``\\[``, ``\\begin{``... outside code), a math
  element that MathJax did not typeset, or a MathJax error;
* a broken image (``naturalWidth == 0``);
* a link to a local file or anchor that does not exist;
* Chinese text drawn as identical "tofu" boxes (no CJK font);
* at 1280 px and at 390 px, any element wider than the text column or needing sideways
  scrolling (display math, and tables on a phone, may scroll inside their own block).

Screenshots of a few pages go to ``_build/screenshots/``.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import html as htmlmod
import http.server
import os
import re
import threading
import zipfile
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
SHOTS = ROOT / "_build" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
SKIP_TOP = {"genindex.html", "search.html", "py-modindex.html"}
SCREENSHOT_PAGES = ("book/intro.html", "book/01_notation.html", "book/02_forward_pass.html",
                    "book/05_gru.html")
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# Raw TeX that should never be visible once MathJax has run (code and typeset math removed).
RAW_TEX = [
    (re.compile(r"\$\$"), "$$"),
    (re.compile(r"\\\(|\\\)"), r"\( or \)"),
    (re.compile(r"\\\[|\\\]"), r"\[ or \]"),
    (re.compile(r"\\begin\{|\\end\{"), r"\begin{ / \end{"),
    (re.compile(r"\\(frac|sum|prod|partial|mathbf|boldsymbol|tanh|sigma|odot|langle|rangle|"
                r"left|right|text|mathrm|top|quad|cdot|times)\b"), "a TeX command"),
    (re.compile(r"\$[^$\n]{0,80}[\\^_][^$\n]{0,80}\$"), "$...$ with TeX inside"),
]


def book_pages() -> list[str]:
    if not (HTML / "index.html").is_file():
        return []
    pages = []
    for path in sorted(HTML.rglob("*.html")):
        rel = path.relative_to(HTML).as_posix()
        if rel.startswith(("_", "exercises/")) or rel in SKIP_TOP or rel == "index.html":
            continue
        pages.append(rel)
    return pages


PAGES = book_pages()


def _require_build() -> None:
    if not (HTML / "index.html").is_file():
        pytest.fail(f"the book is not built ({HTML / 'index.html'} is missing): run `make book` "
                    "first (`make test` does it for you)", pytrace=False)


# ---------------------------------------------------------------------------------------------
# Fixtures: a local server and one browser for the whole module
# ---------------------------------------------------------------------------------------------

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    _require_build()
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    _require_build()
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make browser` (Debian packages chromium, "
                    "chromium-driver)", pytrace=False)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


# ---------------------------------------------------------------------------------------------
# Links: which local files and anchors exist
# ---------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _ids(path: Path) -> frozenset:
    text = path.read_text(encoding="utf8", errors="replace")
    return frozenset(htmlmod.unescape(m) for m in
                     re.findall(r"""\b(?:id|name)\s*=\s*["']([^"']+)["']""", text))


def _local_target(url: str, base: str):
    """(file path, fragment) for a URL on the local server, or None for other hosts."""
    parts = urlsplit(url)
    if f"{parts.scheme}://{parts.netloc}/" != base:
        return None
    rel = unquote(parts.path).lstrip("/")
    path = HTML / rel
    if rel == "" or rel.endswith("/"):
        path = path / "index.html"
    return path, unquote(parts.fragment)


def broken_links(hrefs: list[str], page_url: str, base: str, page_ids: frozenset) -> list[str]:
    problems = []
    for href in sorted(set(hrefs)):
        if href.startswith(("mailto:", "javascript:", "data:", "tel:")) or href in ("", "#"):
            continue
        url = urljoin(page_url, href)
        target = _local_target(url, base)
        if target is None:
            if urlsplit(url).scheme not in ("http", "https"):
                problems.append(f"link {href!r}: unexpected scheme")
            continue
        path, frag = target
        try:
            path.resolve().relative_to(HTML.resolve())
        except ValueError:
            problems.append(f"link {href!r} leaves the built book ({path})")
            continue
        if not path.is_file():
            problems.append(f"link {href!r}: {path.relative_to(HTML)} does not exist")
            continue
        if frag and path.suffix == ".html":
            ids = page_ids if url.split("#")[0] == page_url.split("#")[0] else _ids(path)
            if frag not in ids:
                problems.append(f"link {href!r}: no id {frag!r} in {path.relative_to(HTML)}")
    return problems


# ---------------------------------------------------------------------------------------------
# In-page checks (JavaScript run in the page)
# ---------------------------------------------------------------------------------------------

WAIT_MATHJAX = """async () => {
  const math = document.querySelectorAll('span.math, div.math');
  if (!window.MathJax) return {hasMathJax: false, math: math.length};
  for (let i = 0; i < 200 && !(MathJax.startup && MathJax.startup.promise); i++)
    await new Promise(r => setTimeout(r, 50));
  if (MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  return {hasMathJax: true, math: math.length};
}"""

# Wait for web fonts (MathJax's included) and images instead of "networkidle", which is
# flaky on a loaded machine.
SETTLE = """async () => {
  await document.fonts.ready;
  await Promise.all([...document.images].map(img => img.complete ? null :
      new Promise(r => { img.addEventListener('load', r); img.addEventListener('error', r); })));
  await new Promise(r => requestAnimationFrame(() => setTimeout(r, 50)));
}"""

INSPECT = """() => {
  const main = document.querySelector('main') || document.body;
  const math = [...main.querySelectorAll('span.math, div.math')];
  const untypeset = math.filter(m => !m.querySelector('mjx-container'))
                        .map(m => m.textContent.trim().slice(0, 80));
  const errors = [...document.querySelectorAll('mjx-merror')]
                   .map(e => e.getAttribute('data-mjx-error') || e.textContent.slice(0, 80));
  const clone = main.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, mjx-container, .highlight, textarea, '
                         + '.cell_output, .output')
       .forEach(e => e.remove());
  const images = [...document.images].map(img => ({
      src: img.getAttribute('src'), ok: img.complete && img.naturalWidth > 0}));
  const hrefs = [...document.querySelectorAll('a[href], link[href]')]
                  .map(a => a.getAttribute('href'));
  const ids = [...document.querySelectorAll('[id], a[name]')].map(e => e.id || e.name);
  const badFonts = [...document.fonts].filter(f => f.status === 'error').map(f => f.family);
  return {text: clone.innerText, untypeset, errors, images, hrefs, ids, badFonts,
          containers: main.querySelectorAll('mjx-container').length, math: math.length};
}"""

# Draw each distinct character alone on a canvas, in the font the page uses for it, and hash
# the pixels: with a CJK font every character looks different; without one, Chromium draws
# the same ".notdef" box for all of them.
GLYPHS = """(chars) => {
  const walker = document.createTreeWalker(document.querySelector('main') || document.body,
                                           NodeFilter.SHOW_TEXT);
  let probe = null;
  while (walker.nextNode())
    if (/[\\u3400-\\u9fff]/.test(walker.currentNode.nodeValue)) {
      probe = walker.currentNode.parentElement; break; }
  const font = probe ? getComputedStyle(probe).font : '16px sans-serif';
  const c = document.createElement('canvas'); c.width = 64; c.height = 64;
  const g = c.getContext('2d', {willReadFrequently: true});
  const out = [];
  for (const ch of chars) {
    g.clearRect(0, 0, 64, 64); g.fillStyle = '#000';
    g.font = font.replace(/\\d+(\\.\\d+)?px/, '40px'); g.textBaseline = 'top';
    g.fillText(ch, 4, 4);
    const d = g.getImageData(0, 0, 64, 64).data;
    let ink = 0, h = 0;
    for (let i = 3; i < d.length; i += 4) { ink += d[i] > 0; h = (h * 31 + d[i]) >>> 0; }
    out.push({ch, ink, hash: h});
  }
  return {font, glyphs: out};
}"""


def inspect_page(browser, base: str, rel: str, screenshot: bool = False) -> list[str]:
    problems: list[str] = []
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  service_workers="block")

    def route(r):
        if r.request.url.startswith(base) or r.request.url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            problems.append(f"offline violation: request to {r.request.url}")
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("pageerror", lambda err: problems.append(f"JavaScript error: {err}"))
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}")
            if msg.type in ("error", "assert") else None)
    page.on("requestfailed", lambda req: problems.append(
        f"request failed: {req.url} ({req.failure})") if req.url.startswith(base) else None)
    page.on("response", lambda resp: problems.append(f"HTTP {resp.status}: {resp.url}")
            if resp.status >= 400 else None)
    url = base + rel
    try:
        page.goto(url, wait_until="load", timeout=60_000)
        state = page.evaluate(WAIT_MATHJAX)
        page.evaluate(SETTLE)
        info = page.evaluate(INSPECT)
        if state["math"] and not state["hasMathJax"]:
            problems.append(f"{state['math']} math elements but MathJax did not load")
        for tex in info["untypeset"]:
            problems.append(f"math not typeset by MathJax: {tex!r}")
        for err in info["errors"]:
            problems.append(f"MathJax error: {err}")
        if info["containers"] < info["math"]:
            problems.append(f"{info['math']} math elements, only {info['containers']} rendered")
        for pattern, label in RAW_TEX:
            for m in pattern.finditer(info["text"]):
                ctx = info["text"][max(0, m.start() - 40): m.end() + 40].replace("\n", " ")
                problems.append(f"raw TeX ({label}) in the text: ...{ctx}...")
                break
        for family in info["badFonts"]:
            problems.append(f"web font failed to load: {family}")
        for img in info["images"]:
            if not img["ok"]:
                problems.append(f"broken image: {img['src']}")
        problems += broken_links(info["hrefs"], url, base, frozenset(info["ids"]))
        chars = sorted(set(CJK.findall(info["text"])))[:40]
        if chars:
            res = page.evaluate(GLYPHS, chars)
            hashes = {g["hash"] for g in res["glyphs"]}
            blank = [g["ch"] for g in res["glyphs"] if g["ink"] == 0]
            if blank or len(hashes) < len(chars):
                problems.append(
                    f"Chinese text does not render ({len(hashes)} distinct glyphs for "
                    f"{len(chars)} characters, blank: {''.join(blank)!r}, font {res['font']!r}): "
                    "install a CJK font (Debian fonts-noto-cjk)")
        if screenshot:
            SHOTS.mkdir(parents=True, exist_ok=True)
            name = rel.replace("/", "__").replace(".html", ".png")
            page.screenshot(path=str(SHOTS / name), full_page=True)
    finally:
        context.close()
    return problems


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------

def test_book_is_built():
    _require_build()
    assert PAGES, "the built book has no pages"
    assert "book/intro.html" in PAGES


@pytest.mark.parametrize("rel", PAGES or ["(book not built)"])
def test_page_in_browser(rel, server, browser):
    problems = inspect_page(browser, server, rel, screenshot=rel in SCREENSHOT_PAGES)
    assert not problems, f"{rel}:\n  " + "\n  ".join(dict.fromkeys(problems))


# ---------------------------------------------------------------------------------------------
# Readable at every width: nothing wider than the text column
# ---------------------------------------------------------------------------------------------

#: A cell's output box holding a figure (an image straight inside it): on a phone it may
#: scroll sideways, because the figure is kept at >= MIN_FIGURE_SCALE of its drawn size.
FIGURE_BOX = "div.cell_output:has(> img)"

#: (viewport width, what may scroll inside its own block there).  Display math may scroll
#: inside its own block at any width; on a phone a table may too (a table with inline
#: formulas cannot shrink below their width), and so may a figure's output box (FIGURE_BOX).
#: Everything else (code, printed output, inline code, figures on a wide screen) must fit: at
#: 1280 px code is not wrapped, so this fails on a code line longer than the column.
WIDTHS = {1280: "div.math, mjx-container[display='true']",
          390: "div.math, mjx-container[display='true'], .pst-scrollable-table-container, "
               + FIGURE_BOX}

OVERFLOW = """(mayScroll) => {
  const col = document.querySelector('article.bd-article') || document.querySelector('main');
  const c = col.getBoundingClientRect();
  const name = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
      + (typeof e.className === 'string' && e.className.trim()
         ? '.' + e.className.trim().split(/\\s+/).slice(0, 2).join('.') : '');
  const where = e => { const s = e.closest('section[id]'); return s ? '#' + s.id : ''; };
  const text = e => (e.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 60);
  const clippedBy = e => {
    for (let a = e.parentElement; a && a !== col; a = a.parentElement)
      if (getComputedStyle(a).overflowX !== 'visible') return a;
    return null;
  };
  const out = [];
  for (const e of col.querySelectorAll('*')) {
    // MathJax's internal boxes: the container (inline or display) is what is measured.
    if (e.tagName.startsWith('MJX-') && e.tagName !== 'MJX-CONTAINER') continue;
    const r = e.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if ((r.right > c.right + 1 || r.left < c.left - 1) && !clippedBy(e))
      out.push(`${name(e)} ${where(e)} spans ${Math.round(r.left - c.left)}..`
               + `${Math.round(r.right - c.left)} px of a ${Math.round(c.width)} px column: `
               + `${JSON.stringify(text(e))}`);
    const ox = getComputedStyle(e).overflowX;
    // Text that runs out of its box (an unbreakable word, a nowrap line).
    if (ox === 'visible' && e.scrollWidth > e.clientWidth + 1 && e.clientWidth > 0
        && r.left + e.scrollWidth > c.right + 1 && !clippedBy(e) && !e.closest('span.math'))
      out.push(`${name(e)} ${where(e)}: its text runs to `
               + `${Math.round(r.left - c.left + e.scrollWidth)} px of a `
               + `${Math.round(c.width)} px column: ${JSON.stringify(text(e))}`);
    if ((ox === 'auto' || ox === 'scroll') && e.scrollWidth > e.clientWidth + 1
        && !e.matches(mayScroll) && !e.closest('span.math'))
      out.push(`${name(e)} ${where(e)} needs sideways scrolling: content `
               + `${e.scrollWidth} px in a ${e.clientWidth} px box: ${JSON.stringify(text(e))}`);
  }
  const doc = document.documentElement.scrollWidth;
  if (doc > window.innerWidth + 1)
    out.unshift(`the page scrolls sideways: ${doc} px wide in a ${window.innerWidth} px window`);
  return out;
}"""


@contextlib.contextmanager
def offline_page(browser, base: str, rel: str, width: int):
    """Page `rel` of the book served at `base`, loaded in a `width` px wide window that can
    reach nothing but that server (and data:/blob: URLs); closed on exit."""
    context = browser.new_context(viewport={"width": width, "height": 900},
                                  service_workers="block")
    context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(base)
                  or r.request.url.startswith(("data:", "blob:")) else r.abort())
    try:
        page = context.new_page()
        page.goto(base + rel, wait_until="load", timeout=60_000)
        yield page
    finally:
        context.close()


def overflow_problems(browser, base: str, rel: str, width: int) -> list[str]:
    """What sticks out of the text column of page `rel` in a `width` px wide window."""
    with offline_page(browser, base, rel, width) as page:
        page.evaluate(WAIT_MATHJAX)
        page.evaluate(SETTLE)
        return page.evaluate(OVERFLOW, WIDTHS[width])


@pytest.mark.parametrize("width", sorted(WIDTHS, reverse=True))
@pytest.mark.parametrize("rel", PAGES or ["(book not built)"])
def test_page_fits_the_column(rel, width, server, browser):
    """At 1280 px (a laptop) and 390 px (a phone) no element of the page (code, printed output,
    figure, table, inline code, equation) is wider than the text column or needs sideways
    scrolling, except display math (and, on a phone, tables) inside their own scroll box."""
    problems = overflow_problems(browser, server, rel, width)
    assert not problems, (f"{rel} at {width} px: {len(problems)} element(s) do not fit:\n  "
                          + "\n  ".join(problems[:25]))


def test_overflow_check_can_fail(server, browser):
    """The check above is not vacuous: a code line of 200 characters, a 2000 px image and a
    long unbreakable word added to a page are each reported."""
    rel = "book/intro.html" if "book/intro.html" in PAGES else PAGES[0]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.goto(server + rel, wait_until="load", timeout=60_000)
        page.evaluate(SETTLE)
        assert page.evaluate(OVERFLOW, WIDTHS[1280]) == []
        page.evaluate("""() => {
          const col = document.querySelector('article.bd-article');
          const d = document.createElement('div'); d.className = 'highlight';
          d.innerHTML = '<pre id="probe-pre">' + 'x = 1 + '.repeat(25) + '1</pre>';
          col.appendChild(d);
          const img = document.createElement('img');
          img.id = 'probe-img'; img.style.width = '2000px'; img.style.height = '20px';
          img.style.maxWidth = 'none';
          img.src = 'data:image/svg+xml,<svg xmlns="http://www.w3.org/2000/svg" '
                    + 'width="20" height="20"/>';
          col.appendChild(img);
          const p = document.createElement('p'); p.id = 'probe-word';
          p.style.whiteSpace = 'nowrap'; p.textContent = 'word '.repeat(400);
          col.appendChild(p);
        }""")
        found = "\n".join(page.evaluate(OVERFLOW, WIDTHS[1280]))
    finally:
        context.close()
    assert "pre#probe-pre" in found and "needs sideways scrolling" in found, found
    assert "img#probe-img" in found, found
    assert "p#probe-word" in found, found
    assert "the page scrolls sideways" in found, found


# ---------------------------------------------------------------------------------------------
# Figures legible on a phone: not shrunk below MIN_FIGURE_SCALE of their drawn size
# ---------------------------------------------------------------------------------------------

#: The chapters' figures are drawn at 100 dpi with 10 pt labels (14 px in the PNG); at 0.6 of
#: that size the labels are >= 8.3 CSS px (the stylesheet uses 0.65: 9 px).  Squeezed into a
#: phone's 358 px column they were at 0.36-0.67 (labels 5-9 px).
MIN_FIGURE_SCALE = 0.6

FIGURE_SCALES = """() => [...document.querySelectorAll('article.bd-article img')]
  .filter(i => i.naturalWidth > 0)
  .map(i => {
    const box = i.closest('div.cell_output');
    return {src: i.getAttribute('src').split('/').pop().slice(0, 24),
            natural: i.naturalWidth, shown: i.getBoundingClientRect().width,
            boxScroll: box ? box.scrollWidth : null,
            boxClient: box ? box.clientWidth : null};
  })"""


def figure_scales(browser, base: str, rel: str, width: int = 390) -> list[dict]:
    """Every image of page `rel` in a `width` px window: natural and displayed width (CSS px)."""
    with offline_page(browser, base, rel, width) as page:
        page.evaluate(SETTLE)
        return page.evaluate(FIGURE_SCALES)


def small_figures(figs: list[dict]) -> list[str]:
    """The figures shown below MIN_FIGURE_SCALE, and any whose box disagrees with its size."""
    out = []
    for f in figs:
        scale = f["shown"] / f["natural"]
        if scale < MIN_FIGURE_SCALE:
            out.append(f"{f['src']}: shown {f['shown']:.0f} px of its {f['natural']} px "
                       f"(scale {scale:.2f} < {MIN_FIGURE_SCALE}; labels of 10 pt at "
                       f"{14 * scale:.1f} px)")
        # Independent of getBoundingClientRect: a figure wider than its box makes the box
        # scroll by exactly its width.
        if f["boxScroll"] is not None and f["shown"] > f["boxClient"] + 1 \
                and abs(f["boxScroll"] - f["shown"]) > 2:
            out.append(f"{f['src']}: shown {f['shown']:.0f} px but its box scrolls "
                       f"{f['boxScroll']} px")
    return out


@pytest.mark.parametrize("rel", PAGES or ["(book not built)"])
def test_figures_legible_on_a_phone(rel, server, browser):
    """At 390 px every figure is shown at >= MIN_FIGURE_SCALE of its natural size (the page
    itself not scrolling sideways is test_page_fits_the_column's check at 390 px)."""
    figs = figure_scales(browser, server, rel)
    problems = small_figures(figs)
    assert not problems, f"{rel} at 390 px:\n  " + "\n  ".join(problems)


def test_figure_checks_can_fail(server, browser):
    """On a phone, a figure squeezed to the column is reported as too small; a wide figure in
    an output box scrolls in that box and is allowed, but the same box holding wide text, or a
    wide image outside a cell's output box, is reported, and so is the page scrolling."""
    rel = next((p for p in PAGES if "02_forward_pass" in p), PAGES[0])
    context = browser.new_context(viewport={"width": 390, "height": 900})
    try:
        page = context.new_page()
        page.goto(server + rel, wait_until="load", timeout=60_000)
        page.evaluate(SETTLE)
        assert page.evaluate(OVERFLOW, WIDTHS[390]) == []
        figs = page.evaluate(FIGURE_SCALES)
        assert figs and small_figures(figs) == [], figs
        # The stylesheet's rule is what keeps figures large: without it they are too small.
        squeeze = page.add_style_tag(content="div.cell_output > img { zoom: 1 !important;"
                                             " max-width: 100% !important; }")
        squeezed = small_figures(page.evaluate(FIGURE_SCALES))
        assert len(squeezed) == len(figs), squeezed
        squeeze.evaluate("e => e.remove()")
        page.evaluate("""() => {
          const col = document.querySelector('article.bd-article');
          const o = document.createElement('div'); o.className = 'cell_output';
          o.style.overflowX = 'auto';
          o.innerHTML = '<pre style="white-space: pre; overflow: visible">' + 'y'.repeat(300)
                        + '</pre>';
          col.appendChild(o);
          const f = document.createElement('div'); f.className = 'cell_output';
          f.id = 'probe-figure-box';
          f.innerHTML = '<img style="width: 2000px; height: 20px" src="data:image/svg+xml,'
                        + '<svg xmlns=%22http://www.w3.org/2000/svg%22 width=%2220%22 '
                        + 'height=%2220%22/>">';
          col.appendChild(f);
          const img = document.createElement('img');
          img.id = 'probe-img'; img.style.width = '2000px'; img.style.height = '20px';
          img.style.maxWidth = 'none';
          img.src = 'data:image/svg+xml,<svg xmlns="http://www.w3.org/2000/svg" '
                    + 'width="20" height="20"/>';
          col.appendChild(img);
        }""")
        found = "\n".join(page.evaluate(OVERFLOW, WIDTHS[390]))
        figure_box_scrolls = page.evaluate(
            "() => { const b = document.getElementById('probe-figure-box');"
            " return b.scrollWidth > b.clientWidth + 1; }")
    finally:
        context.close()
    assert figure_box_scrolls, "the probe figure's box does not scroll: nothing was tested"
    assert "div.cell_output" in found and "needs sideways scrolling" in found, found
    assert found.count("needs sideways scrolling") == 1, found
    assert "probe-figure-box" not in found, found
    assert "img#probe-img" in found, found
    assert "the page scrolls sideways" in found, found


def test_math_renders_from_file_url(browser):
    """Opened straight from disk (file://, no server), MathJax and its fonts still load."""
    _require_build()
    rel = "book/02_forward_pass.html" if "book/02_forward_pass.html" in PAGES else PAGES[0]
    problems = []
    page = browser.new_page()
    try:
        page.on("pageerror", lambda err: problems.append(f"JavaScript error: {err}"))
        page.on("console", lambda msg: problems.append(f"console: {msg.text}")
                if msg.type == "error" else None)
        page.on("requestfailed", lambda req: problems.append(f"request failed: {req.url}"))
        page.goto((HTML / rel).as_uri(), wait_until="load", timeout=60_000)
        state = page.evaluate(WAIT_MATHJAX)
        page.evaluate(SETTLE)
        info = page.evaluate(INSPECT)
        assert state["hasMathJax"], "MathJax did not load from file://"
        assert info["math"] > 0 and info["containers"] >= info["math"], info["untypeset"][:5]
        assert not info["badFonts"], info["badFonts"]
        loaded = page.evaluate("() => [...document.fonts].filter(f => f.family === 'MJXTEX'"
                               " && f.status === 'loaded').length")
        assert loaded, "MathJax's TeX font did not load from file://"
    finally:
        page.close()
    assert not problems, "\n".join(problems)


def test_index_redirects_to_intro(server, browser):
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(server + "index.html", wait_until="load")
        page.wait_for_url("**/book/intro.html", timeout=10_000)
    finally:
        context.close()


@pytest.mark.parametrize("rel", PAGES or ["(book not built)"])
def test_page_html_needs_no_network(rel):
    """No script, stylesheet, font or image is fetched from another host (static check; the
    browser test sees only what a page actually requests)."""
    _require_build()
    text = (HTML / rel).read_text(encoding="utf8")
    bad = re.findall(r"""<(?:script|img|iframe|source)\b[^>]*\bsrc=["'](?:https?:)?//[^"']+""",
                     text)
    bad += [tag for tag in re.findall(r"<link\b[^>]*>", text)
            if re.search(r"""rel=["'][^"']*(stylesheet|preload|icon)""", tag)
            and re.search(r"""href=["'](?:https?:)?//""", tag)]
    assert not bad, f"{rel} loads from the network:\n  " + "\n  ".join(bad)


def test_mathjax_is_local_and_pinned():
    _require_build()
    entry = HTML / "_static" / "mathjax" / "es5" / "tex-chtml.js"
    assert entry.is_file(), f"{entry} is missing: tools/fetch_mathjax.py did not run"
    assert (HTML / "_static/mathjax/es5/output/chtml/fonts/woff-v2").is_dir()
    assert entry.read_bytes().find(b"3.2.2") >= 0, "not MathJax 3.2.2"


def test_exercise_downloads_are_complete():
    """Every released exercise linked from a page is in the HTML output, with a zip that holds
    the notebook and the files its tests read."""
    _require_build()
    linked = set()
    for rel in PAGES:
        linked |= set(re.findall(r'href="(?:\.\./)*exercises/([^"/]+)\.zip"',
                                 (HTML / rel).read_text(encoding="utf8")))
    released = {p.parent.name for p in (ROOT / "exercises").glob("*/*.ipynb")
                if p.stem == p.parent.name}
    for stem in sorted(linked):
        assert (HTML / "exercises" / stem / f"{stem}.ipynb").is_file()
        with zipfile.ZipFile(HTML / "exercises" / f"{stem}.zip") as zf:
            names = set(zf.namelist())
        src = {f"{stem}/{p.relative_to(ROOT / 'exercises' / stem).as_posix()}"
               for p in (ROOT / "exercises" / stem).rglob("*")
               if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
               and ".ipynb_checkpoints" not in p.parts}
        assert names == src, f"{stem}.zip holds {sorted(names)}, the folder {sorted(src)}"
    # A chapter whose notebook is released must link it (not say "not released yet").
    not_released = []
    for rel in PAGES:
        text = (HTML / rel).read_text(encoding="utf8")
        for block in re.findall(r'exercise-not-released.*?</div>', text, re.S):
            m = re.search(r"exercises/([A-Za-z0-9_.-]+)/", block)
            if m and m.group(1) in released:
                not_released.append(f"{rel}: {m.group(1)}")
    assert not not_released, ("pages built before their notebook was released (rebuild): "
                              + ", ".join(not_released))



# ---------------------------------------------------------------------------------------------
# tools/fetch_mathjax.py (no network: tarballs are made in memory)
# ---------------------------------------------------------------------------------------------

def _fetcher():
    import importlib.util
    spec = importlib.util.spec_from_file_location("_fetch_mathjax_test",
                                                  ROOT / "tools" / "fetch_mathjax.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tgz(members: dict) -> bytes:
    import io
    import tarfile
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            if data is None:                      # a symlink
                info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_fetch_mathjax_checks_integrity():
    fm = _fetcher()
    data = _tgz({"package/es5/tex-chtml.js": b"x"})
    digest = "sha512-" + __import__("base64").b64encode(hashlib.sha512(data).digest()).decode()
    fm.check_integrity(data, digest)                              # the right digest passes
    with pytest.raises(fm.IntegrityError, match="expected"):
        fm.check_integrity(data + b"\0", digest)                  # one byte more fails
    with pytest.raises(fm.IntegrityError):
        fm.check_integrity(data)                                  # not the pinned tarball


def test_fetch_mathjax_extracts_only_the_browser_build(tmp_path):
    fm = _fetcher()
    data = _tgz({"package/es5/tex-chtml.js": b"chtml",
                 "package/es5/output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff": b"font",
                 "package/es5/tex-mml-chtml.js": b"not needed",
                 "package/es5/../../evil.js": b"escape",
                 "package/es5/input/tex/extensions/link.js": None,
                 "package/ts/core.ts": b"source",
                 "package/LICENSE": b"Apache"})
    site = tmp_path / "site"
    site.mkdir()
    n = fm.extract(data, site)
    files = sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file())
    assert files == ["mathjax/LICENSE", "mathjax/README.txt",
                     "mathjax/es5/output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff",
                     "mathjax/es5/tex-chtml.js"], files
    assert n == 3
    assert not (tmp_path / "evil.js").exists()
