"""HTTP endpoints charge points use: firmware download and diagnostics/log upload.

No login (a charger has no session): the URL itself is the credential,
signed and expiring for downloads, a per-request secret for uploads.
"""

from __future__ import annotations

from django.http import FileResponse, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from . import services

CHUNK = 1 << 16


@require_http_methods(["GET", "HEAD"])
def firmware_download(request, token: str, filename: str):
    """The image while the link is valid: 403 forged, 410 expired."""
    try:
        image = services.firmware_link_resolve(token=token, filename=filename)
    except services.LinkExpired:
        return HttpResponse("link expired\n", status=410, content_type="text/plain")
    except services.LinkInvalid:
        return HttpResponse("forbidden\n", status=403, content_type="text/plain")
    response = FileResponse(image.file.open("rb"), as_attachment=True, filename=image.filename)
    response["X-Checksum-SHA256"] = image.sha256
    return response


@csrf_exempt
@require_http_methods(["PUT", "POST"])
def upload(request, token: str, filename: str = ""):
    """Take a file as a raw body or multipart form (the first file field), PUT or POST."""
    try:
        services.upload_slot_check(token=token)
        stream, name = request, filename
        if request.content_type == "multipart/form-data":
            if request.method == "PUT":  # Django parses multipart bodies of POST only.
                _, files = request.parse_file_upload(request.META, request)
            else:
                files = request.FILES
            if not files:
                return HttpResponse("no file in form\n", status=400, content_type="text/plain")
            stream = next(files.values())
            name = filename or stream.name
        received = services.upload_receive(token=token, stream=stream, name=name)
    except services.UploadRefused as exc:
        return HttpResponse(f"{exc}\n", status=exc.status, content_type="text/plain")
    return JsonResponse({"size": received.size, "sha256": received.sha256}, status=201)
