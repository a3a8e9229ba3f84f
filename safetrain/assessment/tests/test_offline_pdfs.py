"""EXM-08, UX-01: the offline test's paper and answer key are made in the background; the page shows 正在生成…,
polls, and offers the download when the file is ready."""

from __future__ import annotations

import pytest
from django.utils import timezone, translation

from conftest import web_client_for
from safetrain.assessment import offline, printing, tasks
from safetrain.assessment.tests.test_offline import shanxi  # noqa: F401  (the Shanxi programme fixture)


@pytest.fixture(autouse=True)
def chinese():
    with translation.override("zh-hans"):
        yield


@pytest.fixture
def drawn(world, shanxi):  # noqa: F811
    return offline.paper_create(
        programme=shanxi,
        organisation=world.ent_nanshan,
        held_on=timezone.localdate(),
        duration_minutes=90,
        actor=world.admin_nanshan,
    )


def test_exm_08_the_paper_pdf_is_made_in_the_background_and_polled_until_ready(
    world, drawn, monkeypatch, django_capture_on_commit_callbacks
):
    queued = []
    monkeypatch.setattr(tasks.render_offline_pdf, "delay", lambda *args: queued.append(args))
    client = web_client_for(world.admin_nanshan)
    page_url = f"/assessment/offline-tests/{drawn.pk}/"
    state_url = f"{page_url}paper/state/"
    # Asking for the PDF no longer holds the request for the 12 s of layout: it is queued, the page says so.
    with django_capture_on_commit_callbacks(execute=True):
        asked = client.get(f"{page_url}paper.pdf")
    assert asked.status_code == 302
    assert asked["Location"] == f"{page_url}#documents"
    assert queued == [(drawn.pk, "paper")]
    page = client.get(page_url).content.decode()
    assert "正在生成试卷 PDF" in page
    assert f'hx-get="{state_url}" hx-trigger="every 2s"' in page
    # Asking again does not queue it twice.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(state_url, HTTP_HX_REQUEST="true")
    assert queued == [(drawn.pk, "paper")]
    # The worker makes it; the next poll offers the download, which serves the stored file.
    printing.pdf_render(paper_id=drawn.pk, kind="paper")
    polled = client.get(state_url).content.decode()
    assert 'data-state="ready"' in polled
    assert "hx-trigger" not in polled
    assert f'href="{page_url}paper.pdf"' in polled
    pdf = client.get(f"{page_url}paper.pdf")
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")


def test_exm_08_the_answer_key_is_made_on_request_and_offered_for_download(
    world, drawn, django_capture_on_commit_callbacks
):
    client = web_client_for(world.admin_nanshan)
    page_url = f"/assessment/offline-tests/{drawn.pk}/"
    page = client.get(page_url).content.decode()
    assert 'data-testid="pdf-key" data-state="none"' in page
    assert "生成答案" in page
    # Without a broker the work runs at once (eager): the swapped-in part offers the file.
    with django_capture_on_commit_callbacks(execute=True):
        made = client.post(f"{page_url}key/state/", HTTP_HX_REQUEST="true").content.decode()
    assert 'data-state="ready"' in made
    assert f'href="{page_url}key.pdf"' in made
    assert client.get(f"{page_url}key.pdf").content.startswith(b"%PDF")


def test_exm_08_another_units_admin_cannot_see_or_start_the_pdfs(world, drawn):
    other = web_client_for(world.admin_futian)
    assert other.get(f"/assessment/offline-tests/{drawn.pk}/key/state/").status_code == 404
    assert other.post(f"/assessment/offline-tests/{drawn.pk}/key/state/").status_code == 404
    assert printing.pdf_state(drawn, "key") == printing.NONE
    assert (
        web_client_for(world.admin_nanshan).get(f"/assessment/offline-tests/{drawn.pk}/x/state/").status_code
        == 404
    )
