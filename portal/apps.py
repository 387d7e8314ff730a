from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "People and portal"

    def ready(self):
        from portal import signal_handlers

        signal_handlers.connect()
