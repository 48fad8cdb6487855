from setuptools import setup

# Metadata lives in pyproject.toml; setup.py only wires in the cffi builder,
# which compiles csrc/ into statesmix._statesmix at install time (API mode).
setup(cffi_modules=["statesmix/_build.py:ffibuilder"])
