"""OpenRTB 2.6 user data and segment rows from rankings: the rules, `rank --format openrtb`, conformance."""

import json
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from interestkit.adtech.openrtb import SegmentRules, segment_rows, user_object
from interestkit.cli import cli
from interestkit.errors import ConfigError
from interestkit.ranking.order import RankedInterest, UserRanking
from interestkit.taxonomy import load_taxonomy
from support import register_fakes, small_workspace

SEGMENTS = load_taxonomy().segments


def ranking(*items, user_id="u1"):
    interests = [RankedInterest(name, score, rank, []) for rank, (name, score) in enumerate(items, 1)]
    return UserRanking(user_id, interests, [name for name, _ in items], 3, [], [], [])


def test_segments_follow_rank_order_with_the_score_as_text():
    user = ranking(("Golf", 0.61234), ("Football", 0.2), ("Jewelry", 0.1), ("Travel", 0.05))
    assert user_object(user, SEGMENTS) == {"id": "u1", "data": [{
        "name": "interestkit", "ext": {"segtax": 4},
        "segment": [{"id": "644", "value": "0.6123"}, {"id": "663", "value": "0.2000"},
                    {"id": "608", "value": "0.2000"}, {"id": "719", "value": "0.0500"}]}]}
    # every form a ranking takes gives the same answer
    assert user_object(user.as_dict(), SEGMENTS) == user_object(user, SEGMENTS)
    rows = [{"interest": i.interest, "score": i.score, "rank": i.rank} for i in reversed(user.interests)]
    assert user_object(("u1", rows), SEGMENTS) == user_object(user, SEGMENTS)


def test_min_score_max_segments_provider_and_shared_segments():
    user = ranking(("Football", 0.5), ("Golf", 0.3), ("Smartphone", 0.15), ("Electronics", 0.1))
    rules = SegmentRules(provider="acme", min_score=0.12, max_segments=3)
    data = user_object(user, SEGMENTS, rules)["data"][0]
    assert data["name"] == "acme" and [s["id"] for s in data["segment"]] == ["663", "608", "644"]
    rows = segment_rows(user, SEGMENTS, SegmentRules(min_score=0.1))
    # Smartphone and Electronics share Consumer Electronics (703): emitted once, for the better-ranked interest
    assert [(r["segment_id"], r["interest"], r["rank"]) for r in rows] == [
        ("663", "Football", 1), ("608", "Football", 1), ("644", "Golf", 2), ("703", "Smartphone", 3)]
    assert all(r["segtax"] == 4 and r["user_id"] == "u1" for r in rows)
    assert user_object(user, SEGMENTS, SegmentRules(min_score=0.9)) == {"id": "u1"}  # nothing passes: no data


@pytest.mark.parametrize("kwargs, message", [
    ({"min_score": -0.5}, "min-score must be a finite number of at least 0, got -0.5"),
    ({"min_score": float("nan")}, "min-score must be a finite number of at least 0, got nan"),
    ({"max_segments": 0}, "max-segments must be between 1 and 1000, got 0"),
    ({"provider": " "}, "provider must be a non-empty name"),
])
def test_bad_rules_are_named(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        SegmentRules(**kwargs)


@pytest.fixture
def posts(tmp_path):
    paths = small_workspace(tmp_path / "ws", users=4)
    register_fakes()
    return paths["posts"]


def test_rank_format_openrtb_writes_one_user_per_line_matching_the_json_ranking(posts):
    runner = CliRunner()
    ranked = runner.invoke(cli, ["rank", "--posts", str(posts), "--format", "json", "--top-k", "3"])
    result = runner.invoke(cli, ["rank", "--posts", str(posts), "--format", "openrtb", "--top-k", "3",
                                 "--provider", "acme", "--max-segments", "2"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    users = json.loads(ranked.stdout)
    assert len(lines) == len(users) == 4
    for line, user in zip(lines, users):
        emitted = json.loads(line)
        assert emitted == user_object(user, SEGMENTS, SegmentRules(provider="acme", max_segments=2))
        assert emitted["id"] == user["user_id"] and len(emitted["data"][0]["segment"]) <= 2


def test_rank_format_openrtb_with_a_bad_taxonomy_is_one_line(posts, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("interests:\n  - name: A\n    description: a\n    iab_audience: [3]\n  - name: B\n    description: b\n")
    result = CliRunner().invoke(cli, ["rank", "--posts", str(posts), "--format", "openrtb", "--taxonomy", str(bad)])
    assert result.exit_code != 0
    assert "bad.yaml:4: interest #1 (A): iab_audience: segment id 3 is 'Demographic" in result.output
    assert "Traceback" not in result.output


def typecheck(folder, name, users_json) -> subprocess.CompletedProcess:
    """``tsc --strict`` over ``users_json`` typed as the published OpenRTB 2.6 ``User[]``."""
    source = folder / f"{name}.ts"
    source.write_text('import type { User } from "iab-openrtb/v26";\n'
                      f"export const users: User[] = {users_json};\n", encoding="utf-8")
    return subprocess.run([str(folder / "node_modules" / ".bin" / "tsc"), "--strict", "--noEmit", "--module", "nodenext",
                           "--moduleResolution", "nodenext", "--target", "es2020", str(source)],
                          cwd=folder, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_output_conforms_to_the_published_openrtb_2_6_definitions(posts, tmp_path):
    """The iab-openrtb package's OpenRTB 2.6 TypeScript definitions, compiled with tsc --strict over what
    `rank --format openrtb` writes (npm and the npm registry needed)."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed (.ci/run installs it)")
    folder = tmp_path / "ortb"
    folder.mkdir()
    (folder / "package.json").write_text('{"name": "ortb-check", "version": "1.0.0", "private": true}')
    installed = subprocess.run([npm, "install", "--no-audit", "--no-fund", "iab-openrtb@2.1.0", "typescript@5"],
                               cwd=folder, capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stderr[-2000:]
    result = CliRunner().invoke(cli, ["rank", "--posts", str(posts), "--format", "openrtb", "--top-k", "5"])
    assert result.exit_code == 0, result.output
    users = [json.loads(line) for line in result.stdout.splitlines()]
    users.append(user_object(ranking(("Golf", 0.9), ("Football", 0.4), user_id="u2"), SEGMENTS,
                             SegmentRules(provider="acme")))
    users.append(user_object(ranking(("Jewelry", 0.9), user_id="u3"), SEGMENTS))  # no segment: no data
    assert sum("data" in user for user in users) == len(users) - 1
    checked = typecheck(folder, "emitted", json.dumps(users, indent=1))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # the check can fail: a number where OpenRTB wants text, and a misspelt field
    users[0]["data"][0]["segment"][0]["value"] = 0.5
    wrong = typecheck(folder, "wrong_value", json.dumps(users[:1]))
    assert wrong.returncode != 0 and "not assignable to type 'string'" in wrong.stdout
    wrong = typecheck(folder, "wrong_field", json.dumps([{"id": "u1", "segments": []}]))
    assert wrong.returncode != 0 and "'\"segments\"' does not exist in type 'User'" in wrong.stdout
