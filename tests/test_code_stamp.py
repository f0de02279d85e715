"""The code stamp that kept pages and rows carry in their keys (accounts.generations): the
same for the same code, another when a module or a template changes."""

import pytest

from accounts.generations import code_stamp


@pytest.fixture
def project(tmp_path, settings):
    (tmp_path / "patients").mkdir()
    (tmp_path / "patients" / "__init__.py").write_text("")
    (tmp_path / "patients" / "views.py").write_text("SHOWN = 1\n")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "page.html").write_text("<p>{{ shown }}</p>\n")
    (tmp_path / "notes").mkdir()  # not a package: not the code
    (tmp_path / "notes" / "draft.py").write_text("")
    settings.BASE_DIR = tmp_path
    code_stamp.cache_clear()
    yield tmp_path
    code_stamp.cache_clear()


def stamp_now() -> str:
    code_stamp.cache_clear()
    return code_stamp()


def test_the_same_code_has_the_same_stamp(project):
    before = stamp_now()
    assert stamp_now() == before
    (project / "notes" / "draft.py").write_text("print('not deployed')\n")
    assert stamp_now() == before


@pytest.mark.parametrize("changed", ["patients/views.py", "templates/page.html"])
def test_a_changed_module_or_template_changes_the_stamp(project, changed):
    before = stamp_now()
    (project / changed).write_text((project / changed).read_text() + "\n")
    assert stamp_now() != before


def test_the_stamp_is_read_once_a_process(project):
    first = code_stamp()
    (project / "patients" / "views.py").write_text("SHOWN = 2\n")
    assert code_stamp() == first
