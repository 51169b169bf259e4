import datetime as dt

import pytest

from interestkit.errors import DataError
from interestkit.recommend import load_ads, recommend

KNOWN = ["Golf", "Pets", "Cooking", "Travel"]
USER = [
    {"interest": "Golf", "score": 0.5, "rank": 1},
    {"interest": "Pets", "score": 0.3, "rank": 2},
    {"interest": "Cooking", "score": 0.1, "rank": 3},
]
TODAY = dt.date(2026, 6, 1)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_catalogue_and_ordering(tmp_path):
    path = write(tmp_path, "ads.yaml", """
ads:
  - {ad_id: clubs, title: Golf clubs, interests: [Golf], weight: 1.0}
  - {ad_id: food, title: Dog food, interests: [Pets, Cooking], weight: 2.0}
  - {ad_id: pans, title: Pans, interests: [Cooking], weight: 1.0}
  - {ad_id: trips, title: Trips, interests: [Travel], weight: 5.0}
  - {ad_id: old, title: Expired, interests: [Golf], weight: 9, ends: 2026-01-01}
  - {ad_id: soon, title: Not yet, interests: [Golf], weight: 9, starts: 2026-07-01}
""")
    ads = load_ads(path, KNOWN)
    out = recommend(USER, ads, top_n=10, today=TODAY)
    # food: max(0.3*2, 0.1*2) = 0.6 earned by Pets; clubs 0.5; pans 0.1; trips: no matching interest
    assert [(r["ad_id"], r["interest"], round(r["score"], 3)) for r in out] == [
        ("food", "Pets", 0.6), ("clubs", "Golf", 0.5), ("pans", "Cooking", 0.1)]
    assert recommend(USER, ads, top_n=1, today=TODAY)[0]["ad_id"] == "food"
    # inactive ads are never shown, whatever their weight
    assert not {"old", "soon"} & {r["ad_id"] for r in out}


def test_ties_break_by_interest_rank_then_id(tmp_path):
    path = write(tmp_path, "ads.csv", "ad_id,title,interests,weight\nb,B,Golf,1\na,A,Golf,1\nc,C,Pets;Golf,1\n")
    out = recommend(USER, load_ads(path, KNOWN), 10, today=TODAY)
    assert [r["ad_id"] for r in out] == ["a", "b", "c"]
    assert out[2]["interest"] == "Golf"  # c's best match is the user's top interest


@pytest.mark.parametrize("text, message", [
    ("ad_id,title,interests\nx,X,Golff\n", "unknown interest 'Golff' (did you mean 'Golf'"),
    ("ad_id,title,interests\nx,,Golf\n", "missing 'title'"),
    ("ad_id,title,interests,weight\nx,X,Golf,-1\n", "'weight' must be positive"),
    ("ad_id,title,interests,weight\nx,X,Golf,lots\n", "'weight' must be a number"),
    ("ad_id,title,interests\nx,X,Golf\nx,Y,Pets\n", "duplicate ad_id"),
    ("ad_id,title,interests,starts\nx,X,Golf,tomorrow\n", "expected an ISO date"),
])
def test_bad_catalogues_name_the_ad(tmp_path, text, message):
    path = write(tmp_path, "ads.csv", text)
    with pytest.raises(DataError, match="ads.csv") as error:
        load_ads(path, KNOWN)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_missing_and_unsupported_files(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_ads(tmp_path / "none.yaml", KNOWN)
    with pytest.raises(DataError, match="unsupported catalogue type"):
        load_ads(write(tmp_path, "ads.txt", "x"), KNOWN)
