"""Build a configured part once from its ``{"BACKEND": "dotted.path", "OPTIONS": {...}}`` and keep it.

Task backends, sources (scrapers) and the captcha solver are configured the way Django configures
its caches and storages. Each is built on first use and kept for the life of the process (a
scraper owns a browser, so one instance per worker matters), and forgotten when its setting
changes (``override_settings`` in tests, for instance).

A part validates its own options in its constructor: they are its keyword arguments, so a
misspelt or missing one is refused by Python with the option's name, and a wrong value by the
part with a :class:`~.exceptions.ConfigurationError` that names the option (never its value:
options hold secrets such as an API key). ``manage.py check`` builds each part the same way, so
what it accepts is exactly what a worker accepts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from .exceptions import ConfigurationError

T = TypeVar("T")

_parts: list[ConfiguredPart[Any]] = []


class Configurable:
    """Base of the parts a setting names with options: task backends, scrapers, captcha solvers.

    A subclass declares its options as keyword parameters of its ``__init__``, validates their
    values (raising :class:`~.exceptions.ConfigurationError` naming the option, without its
    value), and passes the ones to keep in :attr:`options` up with ``super().__init__``. An option
    that reaches this class is one no subclass declared (a misspelt name): refused, by name.
    """

    def __init__(self, **options: Any) -> None:
        if options:
            raise TypeError(f"{type(self).__name__} got unknown options: {', '.join(map(repr, options))}")
        #: The options the subclasses chose to keep.
        self.options: dict[str, Any] = {}

    def keep_options(self, **options: Any) -> None:
        """Record options under :attr:`options` (for the part's own methods to read later)."""
        self.options.update(options)


def qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def load_class(path: str, base: type[T], where: str) -> type[T]:
    """Import ``path``, a subclass of ``base``; ``ImproperlyConfigured`` names ``where`` (the setting,
    or the entry of one, that holds it)."""
    try:
        cls = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"{where}: BACKEND {path!r} cannot be imported: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ImproperlyConfigured(f"{where}: BACKEND {path!r} is not a subclass of {qualified_name(base)}")
    return cls


def build(cls: type[T], options: Mapping[str, Any], where: str) -> T:
    """``cls(**options)``, with what it refuses as a :class:`ConfigurationError` naming ``where``.

    A ``TypeError`` from binding the options names the option that is unknown or missing; a
    ``ConfigurationError`` or ``ValueError`` from the part names the option whose value it refused.
    """
    try:
        return cls(**options)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{where}: {exc}", exc.hint) from exc
    except (TypeError, ValueError) as exc:
        given = ", ".join(repr(name) for name in options) or "none"
        raise ConfigurationError(
            f"{where}: {qualified_name(cls)} refused its OPTIONS: {exc}",
            f"Check the OPTIONS in {where} against the documentation of {cls.__name__} (given: {given}).",
        ) from exc


def build_part(config: Mapping[str, Any], base: type[T], where: str) -> T:
    """The part that ``config`` (``{"BACKEND", "OPTIONS"}``, read by :func:`.conf.part`) describes."""
    return build(load_class(config["BACKEND"], base, where), config["OPTIONS"], where)


class ConfiguredPart(Generic[T]):
    """The instance :attr:`make` builds from setting ``setting``, built once and kept."""

    def __init__(self, setting: str, make: Callable[[], T]) -> None:
        self.setting = setting
        self.make = make
        self._instance: T | None = None
        self._lock = threading.Lock()
        _parts.append(self)

    def get(self) -> T:
        """The kept instance, built on first use."""
        instance = self._instance
        if instance is None:
            with self._lock:
                if self._instance is None:
                    self._instance = self.make()
                instance = self._instance
        return instance

    def reset(self) -> None:
        """Forget the instance (closing it); the next :meth:`get` builds a new one."""
        with self._lock:
            instance, self._instance = self._instance, None
        close = getattr(instance, "close", None)
        if callable(close):
            close()


def reset_all() -> None:
    """Forget every kept backend, scraper and solver."""
    for configured in _parts:
        configured.reset()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    for configured in _parts:
        if configured.setting == setting:
            configured.reset()


setting_changed.connect(_on_setting_changed, dispatch_uid="django_cedula.loading.setting_changed")
