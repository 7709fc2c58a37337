from django.utils.translation import gettext_lazy as _
from rest_framework import status
from rest_framework.exceptions import APIException


class ResourceInUse(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("It is still referred to (e.g. by transactions or invoices).")
    default_code = "in_use"
