import json

import pytest

from interestkit.data.datasets import load_dataset, load_text_dataset
from interestkit.data.splits import stratified_split
from interestkit.errors import DataError


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def test_reads_tsv_csv_jsonl(tmp_path):
    tsv = write(tmp_path / "a.tsv", 'label\ttext\nGolf\t"quoted" swing\nGolf\tpar\nPets\tdog\nPets\tcat\n')
    csv_ = write(tmp_path / "a.csv", 'label,text\nGolf,"swing, par"\nGolf,par\nPets,dog\nPets,cat\n')
    jsonl = write(tmp_path / "a.jsonl", "\n".join(json.dumps({"label": l, "text": t}) for l, t in
                                                  [("Golf", "a"), ("Golf", "b"), ("Pets", "c"), ("Pets", "d")]))
    assert load_text_dataset(tsv).inputs[0] == '"quoted" swing'
    assert load_text_dataset(csv_).inputs[0] == "swing, par"
    assert load_text_dataset(jsonl).labels == ["Golf", "Golf", "Pets", "Pets"]


@pytest.mark.parametrize(
    "content, pattern",
    [
        ("", "file is empty"),
        ("label\ttext\n", "no rows"),
        ("label\tcaption\nGolf\tx\n", r"bad.tsv:1: missing column 'text'"),
        ("label\ttext\nGolf\tx\nGolf\ty\nPets\tz\n", "label 'Pets' has 1 usable caption"),
        ("label\ttext\nGolf\tx\nGolf\ty\n", "only one label"),
        ("label\ttext\nGolf\tx\tz\nPets\ty\n", r":2: expected 2 fields"),
        ("label\ttext\nGolf\t \nPets\ty\n", r":2: column 'text' is empty"),
    ],
)
def test_bad_tables_name_file_and_problem(tmp_path, content, pattern):
    path = write(tmp_path / "bad.tsv", content)
    with pytest.raises(DataError, match=pattern) as error:
        load_text_dataset(path)
    assert "bad.tsv" in str(error.value) and "\n" not in str(error.value)


def test_undecodable_bytes_name_the_line(tmp_path):
    path = write(tmp_path / "latin.tsv", "label\ttext\nGolf\tok\nGolf\tcaf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin.tsv:3: not valid UTF-8"):
        load_text_dataset(path)


def test_missing_file_and_wrong_suffix(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        load_text_dataset(tmp_path / "nope.tsv")
    with pytest.raises(DataError, match="unsupported file type '.xlsx'"):
        load_text_dataset(write(tmp_path / "a.xlsx", "x"))


def test_invalid_jsonl_line(tmp_path):
    path = write(tmp_path / "a.jsonl", '{"label": "Golf", "text": "a"}\n{oops\n')
    with pytest.raises(DataError, match=r"a.jsonl:2: invalid JSON"):
        load_text_dataset(path)


def test_image_folder_needs_label_folders(tmp_path):
    with pytest.raises(DataError, match="no label sub-folders"):
        load_dataset(tmp_path, "image")


def test_stratified_split_keeps_every_label_on_both_sides():
    labels = ["a"] * 10 + ["b"] * 2 + ["c"] * 50
    train, val = stratified_split(labels, 0.1, seed=3)
    assert not set(train) & set(val) and len(train) + len(val) == len(labels)
    for label in "abc":
        assert any(labels[i] == label for i in train) and any(labels[i] == label for i in val)
    assert stratified_split(labels, 0.1, seed=3) == (train, val)


def test_fingerprint_is_order_independent(tmp_path):
    a = write(tmp_path / "a.tsv", "label\ttext\nGolf\tx\nGolf\ty\nPets\tz\nPets\tw\n")
    b = write(tmp_path / "b.tsv", "label\ttext\nPets\tw\nGolf\ty\nPets\tz\nGolf\tx\n")
    fa, fb = load_text_dataset(a).fingerprint(), load_text_dataset(b).fingerprint()
    assert fa["sha256"] == fb["sha256"] and fa["rows"] == 4 and fa["labels"] == {"Golf": 2, "Pets": 2}
