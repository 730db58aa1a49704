"""The test suite, as a package: pytest imports its modules as `tests.<name>` (the project root
on sys.path), the same name under which they import each other (`from tests.conftest import ...`,
`from tests.support import ...`), so no file here is ever loaded twice under two names."""
