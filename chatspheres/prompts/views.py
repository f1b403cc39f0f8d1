"""The profile page's profile prompts: saved with a plain form post."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from chatspheres.common.auth import member_id
from chatspheres.common.errors import BAD_ANSWER, ApplicationError
from chatspheres.prompts.forms import ProfileAnswersForm
from chatspheres.prompts.services import profile_answers_set


@login_required
@require_POST
def profile_answers(request: HttpRequest) -> HttpResponse:
    """Save the member's answers to the profile prompts, back to the profile page."""
    form = ProfileAnswersForm(request.POST)
    if not form.is_valid():
        messages.error(request, BAD_ANSWER.message)
        return redirect("accounts:profile")
    try:
        profile_answers_set(user_id=member_id(request), answers=form.answers())
    except ApplicationError as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, "Your profile prompts are saved.")
    return redirect(f"{reverse('accounts:profile')}#profile-prompts")
