"""Shared model bases."""

from django.db import models


class BaseModel(models.Model):
    """Every row knows when it was created and last changed."""

    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
