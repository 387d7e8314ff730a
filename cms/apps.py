from django.apps import AppConfig


class CmsConfig(AppConfig):
    name = "cms"
    verbose_name = "Intranet"

    def ready(self):
        from cms import signal_handlers

        signal_handlers.connect()
