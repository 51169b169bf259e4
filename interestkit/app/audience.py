"""Audiences and segment exports from a rankings dataset (what ``interestkit batch`` writes), locally or on Spark.

* ``audience``: the users of one interest, best score first (``interestkit audience``);
* ``export``: a rankings dataset as OpenRTB ``User`` lines or a segments table
  (``interestkit batch --format openrtb|segments``).

The local engine reads the dataset with pyarrow; ``spark`` reads it with a Spark
session, for datasets larger than one machine's memory or on object stores.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from ..adtech import tables
from ..adtech.openrtb import SegmentRules
from ..atomic import atomic_folder, atomic_write
from ..errors import ConfigError, DataError, suggest
from ..taxonomy import INTERESTS

ENGINES = ("local", "spark")
#: ``{name: runner}`` of engines other than local; ``interestkit.spark.audience`` adds ``spark`` when imported
RUNNERS: dict = {}
EXPORTS = ("openrtb", "segments")
FORMATS = ("csv", "json", "parquet")
MAX_TOP = 100_000_000


def _quiet(message):
    pass


def is_uri(path) -> bool:
    return "://" in str(path) and not str(path).startswith("file://")


def read_rankings(path):
    """The rankings columns (``user_id, rank, interest, score``) of a local Parquet file or dataset folder."""
    import pyarrow.parquet as pq

    where = Path(str(path).removeprefix("file://"))
    if not where.exists():
        raise DataError(f"{path}: rankings dataset not found")
    try:
        schema = pq.read_schema(next(where.rglob("*.parquet"))) if where.is_dir() else pq.read_schema(where)
    except StopIteration:
        raise DataError(f"{path}: no Parquet file in this folder; expected the dataset 'interestkit batch' writes") \
            from None
    except Exception as error:  # not Parquet
        raise DataError(f"{path}: cannot read the rankings ({' '.join(str(error).split())[:200]})") from None
    missing = [c for c in tables.RANKING_COLUMNS if c not in schema.names]
    if missing:
        raise DataError(f"{path}: columns {', '.join(missing)} missing; a rankings dataset has "
                        f"{', '.join(tables.RANKING_COLUMNS)} (as 'interestkit batch' writes)")
    try:
        return pq.read_table(where, columns=list(tables.RANKING_COLUMNS)).to_pandas()
    except Exception as error:
        raise DataError(f"{path}: cannot read the rankings ({' '.join(str(error).split())[:200]})") from None


def check_interest(interest: str, known, path) -> None:
    """An interest neither in the dataset nor in the default taxonomy is a mistake: say which are there."""
    if interest in known or interest in INTERESTS:
        return
    raise ConfigError(f"--interest {interest!r}: no user of {path} has it{suggest(interest, known)}")


def _check(interest, min_score, top, engine):
    if engine not in ENGINES:
        raise ConfigError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if not isinstance(interest, str) or not interest.strip() or len(interest) > 200:
        raise ConfigError(f"--interest must be an interest name (at most 200 characters), got {interest!r}")
    if not isinstance(min_score, (int, float)) or not 0.0 <= float(min_score) < math.inf:
        raise ConfigError(f"--min-score must be a finite number of at least 0, got {min_score!r}")
    if top is not None and not 1 <= int(top) <= MAX_TOP:
        raise ConfigError(f"--top must be between 1 and {MAX_TOP}, got {top}")


def audience(rankings_path, interest: str, *, min_score: float = 0.0, top: int | None = None, engine: str = "local",
             master: str = "local[2]", log=_quiet, log_dir=None):
    """A pandas frame of the audience (``user_id, interest, score, rank``), best score first."""
    _check(interest, min_score, top, engine)
    if engine == "local":
        if is_uri(rankings_path):
            raise ConfigError("the local engine reads local files; use --engine spark for URIs")
        frame = read_rankings(rankings_path)
        check_interest(interest, set(frame["interest"]), rankings_path)
        result = tables.audience_frame(frame, interest, min_score, top)
    else:
        if engine not in RUNNERS:
            raise ConfigError(f"the {engine} engine is not loaded here: import interestkit.{engine}.audience first")
        result = RUNNERS[engine](rankings_path, interest, min_score, top, master, log, log_dir)
    log(f"{rankings_path}: {len(result)} users in the audience of {interest!r} (score at least {min_score})")
    return result


def audience_text(frame, fmt: str) -> str:
    """An audience as CSV or as a JSON list."""
    if fmt == "csv":
        return frame.to_csv(index=False, lineterminator="\n", float_format="%.6f")
    if fmt == "json":
        return json.dumps([{**row, "score": round(row["score"], 6), "rank": int(row["rank"])}
                           for row in frame.to_dict("records")], indent=2, ensure_ascii=False) + "\n"
    raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")


def write_audience(frame, fmt: str, out) -> None:
    """``frame`` to ``out``, whole or not at all: a Parquet dataset folder, or a CSV/JSON file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if fmt != "parquet":
        atomic_write(out, audience_text(frame, fmt))
        return
    with atomic_folder(out) as staging:
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), staging / "part-00000.parquet")


def export(rankings_path, out, fmt: str, segments: dict, rules: SegmentRules, log=_quiet) -> int:
    """A local rankings dataset as OpenRTB ``User`` lines (``openrtb``, a JSONL file) or a segments table
    (``segments``, a Parquet dataset folder), written whole or not at all; returns the lines/rows written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = read_rankings(rankings_path)
    if fmt == "openrtb":
        users = tables.openrtb_users(frame, segments, rules)
        atomic_write(out, "".join(json.dumps(u, ensure_ascii=False, separators=(",", ":")) + "\n" for u in users))
        log(f"wrote {len(users)} OpenRTB users to {out}")
        return len(users)
    if fmt != "segments":
        raise ConfigError(f"export format must be 'openrtb' or 'segments', got {fmt!r}")
    table = pa.Table.from_pandas(tables.segments_frame(frame, segments, rules), schema=tables.segment_schema(),
                                 preserve_index=False)
    with atomic_folder(out) as staging:
        pq.write_table(table, staging / "part-00000.parquet")
    log(f"wrote {table.num_rows} segment rows to {out}")
    return table.num_rows


def check_target(out, fmt: str, overwrite: bool) -> None:
    """Where an export goes: a new path, or an existing one of the right kind with ``overwrite``."""
    if is_uri(out):
        raise ConfigError(f"--out {out}: --format {fmt} writes a local {'file' if fmt == 'openrtb' else 'folder'}")
    path = Path(out)
    if fmt == "openrtb" and path.is_dir():
        raise DataError(f"--out {out}: is a folder; --format openrtb writes a JSONL file")
    if fmt == "segments" and path.exists() and not path.is_dir():
        raise DataError(f"--out {out}: is a file; --format segments writes a Parquet dataset (a folder)")
    if path.exists() and (path.is_file() or any(path.iterdir())) and not overwrite:
        raise DataError(f"--out {out}: exists; pass --overwrite to replace it")


@contextmanager
def staged_rankings(out):
    """A temporary folder beside ``out`` for the rankings an export is made from; removed afterwards."""
    parent = Path(out).resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f".{Path(out).name}.rankings-", dir=parent))
    try:
        yield folder / "rankings"
    finally:
        shutil.rmtree(folder, ignore_errors=True)
