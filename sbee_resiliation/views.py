from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import FileResponse
from django.views.decorators.cache import cache_control

FAVICON = settings.BASE_DIR / "static" / "favicon.ico"


@login_not_required
@cache_control(max_age=86400, public=True)
def favicon(request):
    """Browsers ask for /favicon.ico whatever the page says; served from disk."""
    return FileResponse(FAVICON.open("rb"), content_type="image/x-icon")
