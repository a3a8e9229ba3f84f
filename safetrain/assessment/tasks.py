from celery import shared_task

from safetrain.assessment.exams import attempts_finalize_due


@shared_task(name="assessment.finalize_due_attempts")
def finalize_due_attempts() -> int:
    """Submit every exam whose deadline has passed, even if its candidate is gone (EXM-03). Run every minute."""
    return attempts_finalize_due()


@shared_task(name="assessment.render_offline_pdf", acks_late=True, time_limit=300)
def render_offline_pdf(paper_id: int, kind: str) -> str:
    """Make an offline total test's paper or answer key PDF (EXM-08) in the background."""
    from safetrain.assessment.printing import pdf_render

    return pdf_render(paper_id=paper_id, kind=kind)
