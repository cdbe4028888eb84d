"""Load a configured class once with ``import_string`` and keep the instance.

Backends, scrapers and captcha solvers are named by dotted paths in settings. Each is
instantiated on first use and cached for the life of the process (a scraper owns a
browser, so one instance per worker matters), and forgotten when its setting or its
options change (``override_settings`` in tests, for instance).

Their options (``CEDULA_*_OPTIONS``) are keyword arguments, checked against the ``__init__``
signatures of the class (:func:`option_problems`) both by ``manage.py check`` and here before the
class is built, so that a misspelt or missing option is a :class:`~.exceptions.ConfigurationError`
naming the setting, not a retried failure.
"""

from __future__ import annotations

import dataclasses
import inspect
import threading
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from .conf import app_settings
from .exceptions import ConfigurationError

T = TypeVar("T")

_loaders: list[ConfiguredInstance[Any]] = []


_KEYWORD_KINDS = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


class Configurable:
    """Base of the classes a setting names with options: backends, scrapers, captcha solvers.

    It takes no option of its own. A subclass declares its options as keyword parameters of its
    ``__init__`` and passes the ones to keep in :attr:`options` up with ``super().__init__``; an
    option that reaches this class without a subclass having declared it is a mistake of the
    settings (a misspelt name), refused with a ``TypeError`` that names it.
    """

    def __init__(self, **options: Any) -> None:
        unknown = option_problems(type(self), options).unknown
        if unknown:
            raise TypeError(f"{type(self).__name__} got unknown options: {', '.join(unknown)}")
        #: The options that reached the base: those the subclasses chose to keep.
        self.options: dict[str, Any] = dict(options)


@dataclasses.dataclass(frozen=True)
class OptionProblems:
    """What is wrong with a dict of options for a class, by name only (values can be secrets)."""

    cls: type
    #: Options the class does not take.
    unknown: tuple[str, ...] = ()
    #: Required options the dict lacks.
    missing: tuple[str, ...] = ()
    #: Every option the class takes, in the order its ``__init__`` methods declare them.
    accepted: tuple[str, ...] = ()
    #: False when the signatures cannot tell (a ``**kwargs`` not passed on to a package base):
    #: then nothing is reported unknown.
    decided: bool = True

    def __bool__(self) -> bool:
        return bool(self.unknown or self.missing)

    def describe(self) -> str:
        """One sentence naming the class and the options at fault, e.g. for a check's message."""
        parts = []
        if self.unknown:
            parts.append(f"does not take {_plural('option', self.unknown)} {_names(self.unknown)}")
        if self.missing:
            parts.append(f"needs {_plural('option', self.missing)} {_names(self.missing)}")
        return f"{_qualified(self.cls)} {' and '.join(parts)}"

    def hint(self, setting: str) -> str:
        """What to change in ``setting``."""
        if not self.accepted:
            return f"{self.cls.__name__} takes no options: set {setting} = {{}}."
        takes = f"{self.cls.__name__} takes: {', '.join(self.accepted)}."
        steps = []
        if self.unknown:
            steps.append(f"remove or correct {_names(self.unknown)}")
        if self.missing:
            steps.append(f"add {_names(self.missing)}")
        return f"In {setting}, {' and '.join(steps)}. {takes}"


def option_problems(cls: type, options: Mapping[str, Any]) -> OptionProblems:
    """The unknown and missing options of ``options`` for ``cls``, read from its ``__init__`` signatures.

    The ``__init__`` methods are read along the MRO, as ``super().__init__(**options)`` calls them:
    one that takes ``**kwargs`` is assumed to pass what it does not declare to the next, until one
    without ``**kwargs`` or :class:`Configurable`, which takes nothing; what is left there is
    unknown. A parameter without a default is required unless a class before it in the chain
    declares it (then that class supplies it). Nothing is instantiated.
    """
    declared: list[str] = []
    missing: list[str] = []
    passes_kwargs = False
    decided = True
    for klass in cls.__mro__:
        if klass is Configurable:
            break
        if klass is object:
            # Only object.__init__ is left: it takes nothing, unless a **kwargs on the way kept
            # the options itself or a custom __new__ takes them; the signatures cannot tell.
            decided = not passes_kwargs and not any("__new__" in vars(k) for k in cls.__mro__[:-1])
            break
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        try:
            parameters = list(inspect.signature(init).parameters.values())
        except (TypeError, ValueError):
            decided = False  # a C or otherwise unreadable __init__
            break
        if parameters and parameters[0].kind in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        ):
            parameters = parameters[1:]  # self
        for parameter in parameters:
            if parameter.kind not in _KEYWORD_KINDS or parameter.name in declared:
                continue
            declared.append(parameter.name)
            if parameter.default is inspect.Parameter.empty and parameter.name not in options:
                missing.append(parameter.name)
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
            break  # nothing goes further up than what this __init__ declares
        passes_kwargs = True
    unknown = tuple(name for name in options if name not in declared) if decided else ()
    return OptionProblems(
        cls=cls, unknown=unknown, missing=tuple(missing), accepted=tuple(declared), decided=decided
    )


def _qualified(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _names(names: tuple[str, ...]) -> str:
    return ", ".join(repr(name) for name in names)


def _plural(word: str, names: tuple[str, ...]) -> str:
    return word if len(names) == 1 else f"{word}s"


def build(cls: type[T], options: Mapping[str, Any], setting: str) -> T:
    """``cls(**options)``; options it cannot take raise :class:`ConfigurationError` naming ``setting``
    (the setting, or the part of one, that holds them). Names only, never a value: options hold
    secrets such as an API key."""
    problems = option_problems(cls, options)
    if problems:
        raise ConfigurationError(f"{setting}: {problems.describe()}", problems.hint(setting))
    try:
        return cls(**options)
    except (TypeError, ValueError) as exc:
        # The class's own words may quote a value: report its type and the names given.
        given = _names(tuple(options)) or "none"
        raise ConfigurationError(
            f"{setting}: {_qualified(cls)} refused its options ({type(exc).__name__}; "
            f"options given: {given})",
            f"Check the values in {setting} against the documentation of {cls.__name__}.",
        ) from exc


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
                    self._instance = self._build()
                instance = self._instance
        return instance

    def _build(self) -> T:
        """Build the configured class; options it cannot take raise :class:`ConfigurationError`.

        Messages name the setting, the class and the options, never an option's value: options
        hold secrets such as an API key.
        """
        cls = self.load_class()
        setting = app_settings.setting_name(self.options_setting)
        try:
            options = getattr(app_settings, self.options_setting)
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(
                f"{setting} must be a dict of options for {_qualified(cls)}",
                f"Set {setting} to a dict, for example {{}}; manage.py check reports it too.",
            ) from exc
        return build(cls, options, setting)

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
