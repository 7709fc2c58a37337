from django.http import HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .checks import run_checks


async def healthz(request):
    return JsonResponse({"status": "ok"})


async def readyz(request):
    components = await run_checks()
    failing = [name for name, result in components.items() if not result["ok"]]
    body = {"status": "fail" if failing else "ok", "failing": failing, "components": components}
    return JsonResponse(body, status=503 if failing else 200)


def metrics(request):
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)
