from django.conf import settings
from django.http import HttpRequest


def platform(request: HttpRequest) -> dict:
    """Customer-service contacts on every page (UX-04)."""
    return {
        "service_phone": settings.CUSTOMER_SERVICE_PHONE,
        "service_hours": settings.CUSTOMER_SERVICE_HOURS,
        "service_email": settings.CUSTOMER_SERVICE_EMAIL,
    }
