"""django-cedula: validate Colombian cédulas against the Registraduría's census."""

__version__ = "1.0.0.dev0"
