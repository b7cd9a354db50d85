"""The dashboard in Chromium: figures equal the API's, and a reason leads to its calls and to one call explained."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from dashboard_harness import END, START, Served, browser_fixture, page_fixture, served_fixture  # noqa: F401

pytestmark = pytest.mark.browser

WINDOW = urlencode({"since": START, "until": END})


def _api(served: Served, path: str) -> dict[str, Any]:
    response = httpx.get(f"{served.url}{path}", timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_overview_tiles_show_the_api_figures(served: Served, page: Any) -> None:
    page.goto(f"{served.url}/?{WINDOW}")
    summary = _api(served, f"/api/stats/summary?{WINDOW}")
    assert summary["metrics"][0]["value"] == 3000
    for metric in summary["metrics"]:
        shown = page.locator(f'.tile[data-metric="{metric["id"]}"] .value').inner_text()
        assert shown == metric["display"], metric["id"]


def test_charts_are_drawn_with_every_bucket(served: Served, page: Any) -> None:
    page.goto(f"{served.url}/?{WINDOW}")
    series = _api(served, f"/api/stats/timeseries?{WINDOW}&metric=asr&bucket=hour")
    page.wait_for_selector("#chart-asr[data-drawn] canvas")
    assert page.locator("#chart-asr").get_attribute("data-drawn") == str(len(series["points"])) == "24"
    assert page.locator("#chart-attempts canvas").count() == 1


def test_a_reason_leads_to_its_calls_and_to_one_call_explained(served: Served, page: Any) -> None:
    page.goto(f"{served.url}/?{WINDOW}")
    breakdown = _api(served, f"/api/stats/breakdown?{WINDOW}&by=call_end_reason")
    target = next(r for r in breakdown["rows"] if r["value"] == "1011")
    row = page.locator('#reasons tr[data-value="1011"]')
    assert row.locator(".calls").inner_text() == f"{target['attempts']:,}"
    row.locator("a").click()
    page.wait_for_url("**/calls?**")
    assert page.locator("#call-count [data-count]").get_attribute("data-count") == str(target["attempts"])
    assert page.locator("#calls tbody tr").count() == min(100, target["attempts"])
    page.locator("#calls tbody tr a").first.click()
    page.wait_for_url("**/calls/gen-**")
    explained = page.locator('#codes article[data-ref="planet:1011"]')
    assert "CALLEE_NETWORK_ERROR" in explained.inner_text()
    assert "Next steps" in explained.inner_text()
    assert page.locator("#timeline li").count() >= 3


def test_breakdown_page_matches_the_api(served: Served, page: Any) -> None:
    page.goto(f"{served.url}/breakdowns?{WINDOW}&by=outcome")
    breakdown = _api(served, f"/api/stats/breakdown?{WINDOW}&by=outcome")
    shown = {
        row.get_attribute("data-value"): row.locator(".calls").inner_text()
        for row in page.locator("#breakdown tbody tr").all()
    }
    assert shown == {r["value"]: f"{r['attempts']:,}" for r in breakdown["rows"]}


def test_code_reference_filters_as_you_type(served: Served, page: Any) -> None:
    page.goto(f"{served.url}/codes")
    everything = int(page.locator("#code-count").inner_text())
    page.locator("#code-q").fill("CALLEE_BUSY")
    shown = int(page.locator("#code-count").inner_text())
    assert 0 < shown < everything
    assert page.locator('#codes tr[data-ref="planet:1001"]').is_visible()


def test_every_page_has_its_json_twin(served: Served, page: Any) -> None:
    page.goto(f"{served.url}/breakdowns?{WINDOW}&by=provider")
    href = page.locator("#json-twin").get_attribute("href")
    twin = _api(served, href)
    assert twin["table"]["by"] == "provider"
    assert twin["table"]["attempts"] == 3000


def test_routes_page_matches_the_api_sorts_and_leads_to_the_calls(served: Served, page: Any) -> None:
    report = _api(served, f"/api/stats/routes?{WINDOW}")
    page.goto(f"{served.url}/routes?{WINDOW}")
    shown = {row.get_attribute("data-value"): row.locator(".calls").inner_text()
             for row in page.locator("#routes tbody tr").all()}
    assert shown == {r["value"]: f"{r['attempts']:,}" for r in report["rows"]} and len(shown) > 1
    assert page.locator("#routes tbody tr svg.spark").count() == len(report["rows"])
    page.locator('#routes th a[data-sort="asr"]').click()
    page.wait_for_url("**sort=asr**")
    by_asr = _api(served, f"/api/stats/routes?{WINDOW}&sort=asr&order=desc")
    assert [r.get_attribute("data-value") for r in page.locator("#routes tbody tr").all()] == [
        r["value"] for r in by_asr["rows"]]
    first = by_asr["rows"][0]
    page.locator("#routes tbody tr a").first.click()
    page.wait_for_url("**/calls?**")
    assert page.locator("#call-count [data-count]").get_attribute("data-count") == str(first["attempts"])
