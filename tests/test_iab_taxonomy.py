"""The shipped IAB Audience Taxonomy 1.1, `iab_audience` in taxonomy files, and the default mapping."""

import hashlib
import json

import pytest
from click.testing import CliRunner

from interestkit.adtech import iab
from interestkit.cli.main import cli
from interestkit.errors import ConfigError
from interestkit.taxonomy import load_taxonomy

#: the published file's digest (docs and ATTRIBUTION.md name the same), so a local edit shows
SHA256 = "0216547402f3dc028f5ec1bb78c648eed68a81ea3b3b94862e6f6caa9db3ad3b"


def test_the_shipped_file_is_the_published_one_with_its_attribution():
    assert hashlib.sha256(iab.FILE.read_bytes()).hexdigest() == SHA256
    attribution = iab.FILE.with_name("ATTRIBUTION.md").read_text()
    assert SHA256 in attribution and "Creative Commons Attribution 3.0" in attribution
    segments = iab.audience_segments()
    assert len(segments) == 1558
    assert segments["644"].name == "Interest | Sports | Golf" and segments["644"].parent == "607"
    tiers = {}
    for segment in segments.values():
        tiers[segment.tier1] = tiers.get(segment.tier1, 0) + 1
    assert tiers == {"Demographic": 197, "Interest": 497, "Purchase Intent*": 864}


def test_every_default_interest_maps_into_the_interest_branch_except_the_listed_ones():
    taxonomy = load_taxonomy()
    unmapped = [i.name for i in taxonomy.interests if not i.iab_audience]
    assert unmapped == ["Disability", "Jewelry"]
    for interest in taxonomy.interests:
        for ident in interest.iab_audience:
            assert iab.audience_segments()[ident].tier1 == "Interest", (interest.name, ident)
    assert taxonomy.segments["Golf"] == ("644",)
    assert taxonomy.segments["Football"] == ("663", "608")


def write(tmp_path, ids, first="[644]"):
    path = tmp_path / "interests.yaml"
    path.write_text(f"""interests:
  - name: Putting
    description: Putting greens.
    iab_audience: {first}
  - name: Birds
    description: Watching birds.
    iab_audience:
      - 435
      - {ids}
""", encoding="utf-8")
    return path


@pytest.mark.parametrize("ids, message", [
    ("99999", "interests.yaml:9: interest #2 (Birds): iab_audience: segment id 99999 is not in the IAB Tech Lab "
              "Audience Taxonomy 1.1"),
    ("3", "interests.yaml:9: interest #2 (Birds): iab_audience: segment id 3 is 'Demographic | Age Range | 18-20', "
          "not in the 'Interest' branch"),
    ("1000", "interests.yaml:9: interest #2 (Birds): iab_audience: segment id 1000 is 'Purchase Intent*"),
    ("golf", "interests.yaml:9: interest #2 (Birds): iab_audience: expected a segment id (a number such as 644), "
             "got 'golf'"),
    ("435", "interests.yaml:9: interest #2 (Birds): iab_audience: duplicate segment id 435"),
])
def test_bad_segment_ids_are_one_line_errors_naming_file_line_and_id(tmp_path, ids, message):
    with pytest.raises(ConfigError) as caught:
        load_taxonomy(write(tmp_path, ids))
    text = str(caught.value)
    assert "\n" not in text and text.startswith(str(tmp_path)) and message in text, text


def test_not_a_list_names_the_interest(tmp_path):
    with pytest.raises(ConfigError, match=r"interests.yaml:2: interest #1 \(Putting\): 'iab_audience' must be a list"):
        load_taxonomy(write(tmp_path, "435", first="644"))


def test_a_custom_taxonomy_maps_to_any_interest_segments(tmp_path):
    taxonomy = load_taxonomy(write(tmp_path, '"672"'))  # a quoted id is the same id
    assert taxonomy.segments == {"Putting": ("644",), "Birds": ("435", "672")}
    assert "iab_audience" in taxonomy.to_yaml()
    # the ids change no model: zero-shot models' taxonomy fingerprint ignores them
    assert taxonomy.fingerprint() == load_taxonomy(write(tmp_path, "671")).fingerprint()


def test_taxonomy_show_prints_the_ids_and_names_the_unmapped(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["taxonomy", "show"])
    assert result.exit_code == 0, result.output
    golf = next(line for line in result.stdout.splitlines() if line.startswith("Golf "))
    assert " 644 " in golf
    assert "no IAB Audience Taxonomy 1.1 segment (iab_audience): Disability, Jewelry" in result.stderr
    result = runner.invoke(cli, ["taxonomy", "show", "--taxonomy", str(write(tmp_path, "672")), "--format", "json"])
    assert json.loads(result.stdout)["interests"][1]["iab_audience"] == [435, 672]
