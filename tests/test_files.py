"""sim.files: an output folder or file checked before any work (created now, written to once)."""

import pytest

from sim.files import NotWritable, writable_dir, writable_file


def test_a_folder_is_made_with_its_parents_and_left_empty(tmp_path):
    out = writable_dir(tmp_path / "a" / "b")
    assert out.is_dir() and list(out.iterdir()) == []


def test_a_file_in_the_way_or_an_impossible_path_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(NotWritable, match="it is a file, not a folder"):
        writable_dir(tmp_path / "f")
    with pytest.raises(NotWritable, match="Not a directory"):
        writable_dir(tmp_path / "f" / "sub")
    with pytest.raises(NotWritable):
        writable_dir("/proc/surge-cannot-be-here")
    assert (tmp_path / "f").read_text() == "x"


def test_an_output_file_is_checked_without_touching_it(tmp_path):
    assert writable_file(tmp_path / "new" / "site.toml") == tmp_path / "new" / "site.toml"
    assert (tmp_path / "new").is_dir() and not (tmp_path / "new" / "site.toml").exists()
    with pytest.raises(NotWritable, match="it is a folder, not a file"):
        writable_file(tmp_path)
    with pytest.raises(NotWritable, match="no such folder"):
        writable_file(tmp_path / "missing" / "page.html", make_folder=False)
