"""django-cedula: validate Colombian cédulas against the Registraduría's census."""

__version__ = "0.1.0"
