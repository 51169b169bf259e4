"""Config, search-space and taxonomy files are read by one reader (``data.tables.read_yaml``):
the same one-line errors for a folder, a missing file, non-UTF-8 text and bad YAML."""

import pytest

from interestkit.errors import ConfigError
from interestkit.modeling.config import load_yaml
from interestkit.modeling.space import load_space_file
from interestkit.taxonomy import load_taxonomy

READERS = [(load_yaml, "YAML config file"), (lambda p: load_space_file(p, {}, None, None), "YAML search-space file"),
           (load_taxonomy, "taxonomy file (interests.yaml)")]


@pytest.mark.parametrize("read, kind", READERS)
def test_each_yaml_file_kind_gives_the_same_one_line_errors(tmp_path, read, kind):
    with pytest.raises(ConfigError, match=rf"^{tmp_path}: is a folder, expected a {__import__('re').escape(kind)}$"):
        read(tmp_path)
    with pytest.raises(ConfigError, match=rf"^{tmp_path / 'none.yaml'}: {kind.removeprefix('YAML ').split(' (')[0]} not found$"):
        read(tmp_path / "none.yaml")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=rf"^{latin}: not UTF-8 text$"):
        read(latin)
    broken = tmp_path / "broken.yaml"
    broken.write_text("a: 1\nb: [2\n")
    with pytest.raises(ConfigError, match=rf"^{broken}:\d: invalid YAML"):
        read(broken)

