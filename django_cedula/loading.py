"""Load a configured class once with ``import_string`` and keep the instance.

Backends, scrapers and captcha solvers are named by dotted paths in settings. Each is
instantiated on first use and cached for the life of the process (a scraper owns a
browser, so one instance per worker matters), and forgotten when its setting or its
options change (``override_settings`` in tests, for instance).
"""

from __future__ import annotations

import threading
from typing import Any, Generic, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from .conf import app_settings

T = TypeVar("T")

_loaders: list[ConfiguredInstance[Any]] = []


class ConfiguredInstance(Generic[T]):
    """The instance of the class that setting ``path_setting`` names, built with ``options_setting``."""

    def __init__(self, path_setting: str, options_setting: str, base: type[T]) -> None:
        self.path_setting = path_setting
        self.options_setting = options_setting
        self.base = base
        self._instance: T | None = None
        self._lock = threading.Lock()
        _loaders.append(self)

    def load_class(self) -> type[T]:
        """Import the configured class, raising ``ImproperlyConfigured`` with the setting's name."""
        path = getattr(app_settings, self.path_setting)
        name = app_settings.setting_name(self.path_setting)
        try:
            cls = import_string(path)
        except ImportError as exc:
            raise ImproperlyConfigured(f"{name} = {path!r} cannot be imported: {exc}") from exc
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise ImproperlyConfigured(
                f"{name} = {path!r} is not a subclass of {self.base.__module__}.{self.base.__qualname__}"
            )
        return cls

    def get(self) -> T:
        """The cached instance, created on first use."""
        instance = self._instance
        if instance is None:
            with self._lock:
                if self._instance is None:
                    options = getattr(app_settings, self.options_setting)
                    self._instance = self.load_class()(**options)
                instance = self._instance
        return instance

    def reset(self) -> None:
        """Forget the instance; the next :meth:`get` builds a new one."""
        with self._lock:
            instance, self._instance = self._instance, None
        close = getattr(instance, "close", None)
        if callable(close):
            close()

    def watches(self, setting: str) -> bool:
        return setting in (
            app_settings.setting_name(self.path_setting),
            app_settings.setting_name(self.options_setting),
        )


def reset_all() -> None:
    """Forget every cached backend, scraper and solver."""
    for loader in _loaders:
        loader.reset()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    for loader in _loaders:
        if loader.watches(setting):
            loader.reset()


setting_changed.connect(_on_setting_changed, dispatch_uid="django_cedula.loading.setting_changed")
