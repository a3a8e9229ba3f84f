"""EXM-06 with CERT-01: the exam result page and the exams panel on the desk link to the certificate the exam led
to; certification tells assessment through safetrain.assessment.links (assessment never imports certification)."""

from __future__ import annotations

from safetrain.assessment.links import certificate_link
from safetrain.assessment.tests.conftest import studied
from safetrain.certification.models import Certificate
from safetrain.certification.tests.test_certificates import pass_exam
from safetrain.learning.models import Enrolment


def test_exm_06_the_result_and_the_desk_link_to_the_certificate_once_issued(
    world, programme, committed, web_client
):
    learner = world.learner_nanshan
    studied(learner, programme)
    enrolment = Enrolment.objects.get(learner=learner, programme=programme)
    assert certificate_link(enrolment) is None
    with committed():
        attempt = pass_exam(learner, programme)
    certificate = Certificate.objects.get(enrolment=enrolment)
    pdf = f"/certificates/{certificate.number}.pdf"
    assert certificate_link(enrolment) == (certificate.number, pdf)
    client = web_client(learner)
    page = client.get(f"/assessment/attempts/{attempt.pk}/result/").content.decode()
    assert 'data-testid="certificate-link"' in page
    assert pdf in page
    assert "查看证书" in page
    desk = client.get("/").content.decode()
    assert 'data-testid="desk-exams"' in desk
    assert 'data-state="passed"' in desk
    assert pdf in desk
    # Another learner's result page is not theirs to see.
    assert (
        web_client(world.learner_futian).get(f"/assessment/attempts/{attempt.pk}/result/").status_code == 404
    )
