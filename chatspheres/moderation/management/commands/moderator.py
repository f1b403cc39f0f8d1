"""Make a member a moderator (the "Moderators" group), or stop them being one."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chatspheres.accounts.models import User
from chatspheres.moderation.services import moderator_set


class Command(BaseCommand):
    help = (
        'Add the member with this email address to the "Moderators" group, so they may '
        "use /moderation/ (staff may already), or take them out with --remove. "
        "The change is written to the moderation audit log."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email", help="the address the member logs in with")
        parser.add_argument("--remove", action="store_true", help="stop them being a moderator")

    def handle(self, *args: Any, email: str, remove: bool, **options: Any) -> None:
        user = User.objects.filter(email__iexact=email.strip()).first()
        if user is None:
            raise CommandError(f"No account uses the address {email}.")
        changed = moderator_set(user=user, moderator=not remove, by="the moderator command")
        if remove:
            self.stdout.write(
                f"{email} is no longer a moderator." if changed else f"{email} was not a moderator."
            )
        else:
            self.stdout.write(
                f"{email} is a moderator now: /moderation/."
                if changed
                else f"{email} was a moderator already."
            )
