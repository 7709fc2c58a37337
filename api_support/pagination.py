from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


class ApiPagination(PageNumberPagination):
    """`{"count", "next", "previous", "results"}`; `?page=` and `?page_size=` (max 500).

    A `page_size` that is not a whole number of at least 1 is a 400 naming
    it (not silently the default); one above the maximum gets the maximum.
    """

    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw not in (None, ""):
            try:
                valid = int(raw) >= 1
            except ValueError:
                valid = False
            if not valid:
                raise ValidationError(
                    {
                        self.page_size_query_param: [
                            _("A whole number from 1 to %(max)d.") % {"max": self.max_page_size}
                        ]
                    }
                )
        return super().get_page_size(request)
