"""Delete a member's account on their request (sent through the Contact page, for example)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chatspheres.accounts.models import User
from chatspheres.accounts.services import account_erase


class Command(BaseCommand):
    help = (
        "Delete the account with this email address exactly as its owner's "
        '"Delete my account" does (decision 0007). Check first that the request '
        "is really theirs, for example by answering from that address."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email", help="the address the member logs in with")

    def handle(self, *args: Any, email: str, **options: Any) -> None:
        user = User.objects.filter(email__iexact=email.strip(), deleted_at__isnull=True).first()
        if user is None:
            raise CommandError(f"No account uses the address {email}.")
        account_erase(user=user)
        self.stdout.write(f"Deleted the account of {email}; it shows as Deleted member now.")
