from django.apps import AppConfig


class SafetyConfig(AppConfig):
    name = "chatspheres.safety"
    label = "safety"

    def ready(self) -> None:
        # calls may not import safety: a block stops a pairing through its hook.
        from chatspheres.calls.hooks import pairing_check_register
        from chatspheres.safety.selectors import may_meet

        pairing_check_register(may_meet)
