"""Runs the module's pytest tests for CTest (python_module); exits 77, which CTest reports as
skipped, where pytest is not installed."""
import sys

try:
    import pytest
except ImportError:
    print("SKIPPED: pytest is not installed (pip install pytest): the Python module was built, not tested")
    sys.exit(77)

sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "-rs", *sys.argv[1:]]))
