from django.core.management.base import BaseCommand

from api_support.services import idempotency_purge


class Command(BaseCommand):
    help = "Delete idempotency records past their lifetime (24 hours)."

    def handle(self, *args, **options):
        deleted = idempotency_purge()
        self.stdout.write(f"{deleted} idempotency records deleted")
