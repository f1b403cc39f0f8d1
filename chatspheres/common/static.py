"""Static files: hashed names and compressed copies once collected, plain names before.

``collectstatic`` (which ``make run`` runs) writes each file under a name
with its content's hash, plus a gzip copy, and a manifest that
maps the plain names to the hashed ones. WhiteNoise serves the hashed names
as immutable, cacheable for years, since a change makes a new name.

Before anything is collected (tests, ``manage.py`` commands, a first start)
there is no manifest: pages then name each file plainly and WhiteNoise finds
it in the source folders (``WHITENOISE_USE_FINDERS``).
"""

from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage


class StaticFilesStorage(CompressedManifestStaticFilesStorage):
    """WhiteNoise's compressed manifest storage, naming a file plainly when it was not collected."""

    # Imports between our ES modules are rewritten to the hashed names too.
    # Otherwise a module a page loads by its hashed name (safety.js) and
    # another imports by its plain name would run twice, as two modules.
    support_js_module_import_aggregation = True

    def stored_name(self, name: str) -> str:
        try:
            return super().stored_name(name)
        except ValueError:
            # Neither in the manifest nor in STATIC_ROOT: served from the
            # source folders under this name. collectstatic itself does not
            # come through here, so it still fails on a missing reference.
            return name
