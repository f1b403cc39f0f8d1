"""Who is asking, for views behind ``login_required``."""

from django.http import HttpRequest


def member_id(request: HttpRequest) -> int:
    """The signed-in member's id (the view requires login)."""
    user_id = request.user.pk
    if user_id is None:
        raise PermissionError("this view requires a signed-in member")
    return int(user_id)
