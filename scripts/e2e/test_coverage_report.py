"""The coverage report's forms in the tools people open them with: the JUnit XML in a real XML
parser, and the HTML page in headless Chromium, screenshot and all.

The sample report (crates/coverage/tests/data/report/sample.json, every status in it) is
rendered by the crate's own test, report::tests::the_sample_renders_into_the_folder_the_browser_check_reads,
which writes every form into $COVERAGE_REPORT_SAMPLE_OUT. No stack is needed.

The screenshots are decoded here with the standard library (zlib), so the checks need no
image package: a page that failed to lay out, lost its styles or its script shows up as a
small or near-uniform image, or lacks the colours the heat map and the timeline draw with."""
import os
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from html.parser import HTMLParser

import pytest

from lib import ROOT

RENDER_TEST = "report::tests::the_sample_renders_into_the_folder_the_browser_check_reads"

# The colours the page draws with (templates/report.html and report/html.rs): the timeline's
# firing bar, its pending bar, a cell that did not fire, and the heat of EdgeNodeDown's cell
# (fired after 75 s: hsl(74 70% 42%)).
FIRING_RED = (0xCF, 0x22, 0x2E)
PENDING_YELLOW = (0xF5, 0xD7, 0x6E)
QUIET_GREY = (0xE6, 0xE9, 0xED)
HEAT_75_S = (0x93, 0xB6, 0x20)

WINDOW = (1400, 900)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The sample report in every form, as the crate renders it."""
    out = tmp_path_factory.mktemp("coverage-report")
    subprocess.run(
        ["cargo", "test", "-q", "-p", "coverage", "--lib", RENDER_TEST, "--", "--exact"],
        cwd=ROOT, check=True, env={**os.environ, "COVERAGE_REPORT_SAMPLE_OUT": str(out)})
    forms = {path.suffix: path for path in out.iterdir()}
    assert set(forms) == {".json", ".txt", ".md", ".xml", ".html"}, f"the render test wrote {sorted(forms)}"
    return forms


def chromium():
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "chromium is not installed (scripts/test installs it: ensure_chromium)"
    return found


def run_chromium(tmp_path, *args):
    return subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", f"--user-data-dir={tmp_path / 'chrome'}", *args],
        capture_output=True, text=True, timeout=90, check=True)


def screenshot(tmp_path, page, name, fragment=""):
    png = tmp_path / name
    run_chromium(tmp_path, f"--window-size={WINDOW[0]},{WINDOW[1]}", f"--screenshot={png}",
                 f"{page.as_uri()}{fragment}")
    assert png.exists(), f"chromium wrote no screenshot of {page}"
    return png


def decode_png(path):
    """(width, height, rows of (r, g, b)) of an 8-bit, non-interlaced RGB or RGBA PNG, as
    Chromium writes them."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, f"unexpected PNG format {header}"
    channels = 4 if colour == 6 else 3
    raw, stride = zlib.decompress(idat), width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            left = line[x - channels] if x >= channels else 0
            up, up_left = previous[x], previous[x - channels] if x >= channels else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                line[x] = (line[x] + (left if pa <= pb and pa <= pc else up if pb <= pc else up_left)) & 0xFF
        rows.append([tuple(line[x:x + 3]) for x in range(0, stride, channels)])
        previous = line
    return width, height, rows


def colour_count(rows, colour, tolerance=3):
    """Pixels within `tolerance` of `colour` in every channel."""
    def near(pixel):
        return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))
    return sum(1 for row in rows for pixel in row if near(pixel))


class Links(HTMLParser):
    """Every tag and every attribute that could make a browser fetch something."""

    def __init__(self):
        super().__init__()
        self.tags, self.fetching = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "action", "poster", "data") and value and not value.startswith("#"):
                self.fetching.append((tag, name, value))


def test_the_page_is_one_file_that_fetches_nothing(rendered):
    html = rendered[".html"].read_text()
    links = Links()
    links.feed(html)
    assert links.fetching == [], f"the page must be self-contained, it links {links.fetching}"
    assert "link" not in links.tags and "iframe" not in links.tags and "img" not in links.tags
    assert "http:" not in html and "https:" not in html and "url(" not in html and "@import" not in html
    assert links.tags.count("style") == 1 and links.tags.count("script") == 1, "inline CSS and script only"


def test_the_junit_xml_parses_into_a_faults_and_a_rules_suite(rendered):
    root = ET.parse(rendered[".xml"]).getroot()
    assert root.tag == "testsuites"
    suites = {suite.get("name"): suite for suite in root}
    assert list(suites) == ["faults", "rules"]
    for name, suite in suites.items():
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases), name
        assert int(suite.get("failures")) == sum(1 for c in cases if c.find("failure") is not None), name
        assert int(suite.get("skipped")) == sum(1 for c in cases if c.find("skipped") is not None), name
    failed = {c.get("name") for c in suites["faults"] if c.find("failure") is not None}
    assert failed == {"disk_fill on edge-01", "flaky_network on edge-04"}
    verdicts = {c.get("name"): [e.tag for e in c] for c in suites["rules"]}
    assert verdicts["HostFilesystemFillingUp"][0] == "skipped"
    assert {a for a, v in verdicts.items() if v and v[0] == "failure"} == {
        "EdgeHighLatencyP99", "EdgeErrorBudgetBurn", "HostOutOfInodes", "Watchdog"}
    inodes = next(c for c in suites["rules"] if c.get("name") == "HostOutOfInodes")
    assert inodes.get("classname") == "rules.disk & inodes <xfs>", "escaped markup reads back as written"
    assert 'fstype="xfs"' in inodes.find("failure").get("message")


def test_the_page_in_chromium_runs_its_script_and_opens_on_the_first_caught_cell(rendered, tmp_path):
    dom = run_chromium(tmp_path, "--dump-dom", rendered[".html"].as_uri()).stdout
    assert 'class="cell fired selected"' in dom, f"the script did not mark the opening cell:\n{dom[:2000]}"
    assert '<div class="detail" id="d0-0">' in dom, "node_crash x EdgeNodeDown's timeline is shown"
    assert '<div class="detail" id="d3-2" hidden="">' in dom, "the other timelines are hidden"
    linked = run_chromium(tmp_path, "--dump-dom", f"{rendered['.html'].as_uri()}#cell-d3-2").stdout
    assert '<div class="detail" id="d3-2">' in linked, "a #cell link opens on that cell"
    assert '<div class="detail" id="d0-0" hidden="">' in linked


def test_the_page_in_chromium_draws_the_heat_map_and_a_timeline(rendered, tmp_path):
    png = screenshot(tmp_path, rendered[".html"], "report.png")
    assert png.stat().st_size > 40_000, f"a {png.stat().st_size}-byte screenshot is too plain to be the page"
    width, height, rows = decode_png(png)
    assert (width, height) == WINDOW
    colours = {pixel for row in rows[::4] for pixel in row[::4]}
    assert len(colours) > 50, f"{len(colours)} colours: the page did not render"
    # The opening cell's timeline: pending, then firing for most of the fault.
    assert colour_count(rows, FIRING_RED) > 5_000, "no firing bar in the opening timeline"
    assert colour_count(rows, PENDING_YELLOW) > 300, "no pending bar in the opening timeline"
    assert colour_count(rows, HEAT_75_S) > 1_000, "EdgeNodeDown's cell lacks its heat colour"
    assert colour_count(rows, QUIET_GREY) > 20_000, "the cells that did not fire are not grey"
    print(f"\n(screenshot: {png})")


def test_a_cell_that_only_went_pending_draws_no_firing_bar(rendered, tmp_path):
    """flaky_network x EdgeHighLatencyP99: pending for a minute, never firing. Linked
    directly (#cell-d3-2), the page must show its yellow bar and no red one, from the top."""
    png = screenshot(tmp_path, rendered[".html"], "pending.png", "#cell-d3-2")
    _, _, rows = decode_png(png)
    assert colour_count(rows, PENDING_YELLOW) > 300, "the pending bar is missing"
    assert colour_count(rows, FIRING_RED) < 50, "a cell that never fired draws a firing bar"
    assert colour_count(rows, HEAT_75_S) > 1_000, "the link scrolled the heat map away"
