"""The Spark engine on a real standalone cluster: a master and a worker as separate JVMs on 127.0.0.1.

The cluster (``interestkit.testing.spark_cluster``) is started once for the module from
pyspark's own jars, with one 2-core worker. Against it run ``interestkit batch --engine
spark --master spark://...`` (a separate process, as a user runs it), ``rank_users`` in
this process, and docs/scaling.md's cluster recipe as written: the environment packed by
``python -m interestkit.spark.environment`` and shipped with ``--archives`` to a
``spark-submit`` job. Each answer must equal ``interestkit rank``'s, photos included.
Slow (a JVM per daemon, one per application, Python workers): marked ``slow``.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from batch_support import assert_same, from_parquet, ranked
from support import register_fakes, small_workspace
from test_spark import _spark_or_skip

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("spark-cluster")]  # one worker starts the cluster once

ROOT = Path(__file__).resolve().parents[1]
# libraries the fake models never import on executors: left out of the shipped archive to keep it small
NOT_SHIPPED = ["tensorflow*", "keras*", "clang", "kumo_*", "gt_all_*", "efficientnet_*", "skimage", "networkx",
               "matplotlib", "fonttools"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    _spark_or_skip()
    from interestkit.spark.session import active_session
    from interestkit.testing.spark_cluster import standalone_cluster

    running = active_session()
    if running is not None:  # another module's local session: this module's sessions are the cluster's
        running.stop()
    folder = tmp_path_factory.mktemp("spark-cluster")
    with standalone_cluster(folder, cores=2) as url:
        yield {"url": url, "folder": folder}


@pytest.fixture
def workspace(tmp_path, cluster):
    paths = small_workspace(tmp_path / "ws", users=6)  # 120 posts, most with a photo
    return {**paths, "uris": register_fakes()}


def _clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK_", "SPARK_"))}
    return {**env, "INTERESTKIT_PLUGINS": "", **extra}


def test_batch_on_a_standalone_cluster_gives_what_rank_gives(workspace, cluster, tmp_path):
    """No Spark variable set: executors get this interpreter and interestkit's variables from the session."""
    posts, out = workspace["posts"], tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "interestkit", "batch", "--posts", str(posts), "--out", str(out),
                          "--engine", "spark", "--master", cluster["url"], "--spark-logs", str(tmp_path / "logs")],
                         capture_output=True, text=True, env=_clean_env(), timeout=900)
    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines()[0].startswith(f"spark: session on {cluster['url']} started in"), run.stderr
    assert_same(ranked(posts), from_parquet(out), "batch on a standalone cluster")
    # the executors ran on the worker: its per-application folder holds their logs
    assert list((cluster["folder"] / "work").glob("app-*/*/stderr"))


def test_rank_users_on_a_standalone_cluster_with_photos_as_paths(workspace, cluster, tmp_path):
    from interestkit.spark import rank_users, session

    spark = session(cluster["url"], tmp_path / "logs")
    try:
        assert spark.sparkContext.master == cluster["url"]
        posts = spark.read.json(str(workspace["posts"]))
        frame = rank_users(posts, text_model=workspace["uris"]["text"], image_model=workspace["uris"]["image"],
                           media_root=workspace["posts"].parent, fusion="weighted", top_k=4, last=12).toPandas()
    finally:
        spark.stop()
    got = {u: [(int(r.rank), r.interest, float(r.score), list(r.posts), int(r.n_posts))
               for r in g.sort_values("rank").itertuples()] for u, g in frame.groupby("user_id")}
    assert_same(ranked(workspace["posts"], "--fusion", "weighted", "--top-k", "4", "--last", "12"), got,
                "rank_users on a standalone cluster")


def _recipe_blocks():
    guide = (ROOT / "docs" / "scaling.md").read_text(encoding="utf-8")
    script = re.search(r"```python\n(# nightly\.py.*?)```", guide, re.S)
    shell = re.search(r"```bash\n(python -m interestkit\.spark\.environment.*?)```", guide, re.S)
    assert script and shell, "docs/scaling.md: the cluster recipe's nightly.py and its commands"
    return script.group(1), shell.group(1)


def test_the_scaling_guides_cluster_recipe_runs_with_the_environment_shipped(workspace, cluster, tmp_path):
    """docs/scaling.md's recipe as written: pack, ship with --archives, spark-submit nightly.py.

    Executors must run ./environment/bin/python from the archive, so PATH and the
    variables that would point them at this interpreter are not given to the job."""
    script, commands = _recipe_blocks()
    (tmp_path / "nightly.py").write_text(script, encoding="utf-8")
    media = workspace["posts"].parent
    (tmp_path / "posts.jsonl").symlink_to(workspace["posts"])
    (tmp_path / "media").symlink_to(media / "media")
    commands = commands.replace("spark://MASTER:7077", cluster["url"])
    # the one change to the commands: the test's fake models need no TensorFlow, so the archive leaves it out
    commands = commands.replace("env.tar.gz\n", "env.tar.gz " + " ".join(f"--exclude '{p}'" for p in NOT_SHIPPED)
                                + "\n", 1)
    bin_dir = str(Path(sys.executable).parent)
    env = _clean_env(PATH=f"{bin_dir}:{os.environ.get('PATH', '')}")
    run = subprocess.run(["bash", "-euo", "pipefail", "-c", commands], cwd=tmp_path, capture_output=True, text=True,
                         env=env, timeout=1800)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "development installs packed from source: interestkit" in run.stderr
    frame = pd.read_parquet(tmp_path / "rankings").sort_values(["user_id", "rank"])  # the job writes unordered
    got = {u: [(int(r.rank), r.interest, float(r.score), list(r.posts), int(r.n_posts)) for r in g.itertuples()]
           for u, g in frame.groupby("user_id")}
    assert_same(ranked(workspace["posts"], "--top-k", "5", "--last", "20"), got, "the cluster recipe")
    # the executors unpacked the archive (without the development-mode hooks) and ran its Python
    unpacked = list((cluster["folder"] / "work").glob("app-*/*/environment/pyvenv.cfg"))
    assert unpacked, "no executor unpacked the environment"
    site = next(unpacked[0].parent.glob("lib/python*/site-packages"))
    assert (site / "interestkit" / "spark" / "environment.py").is_file()
    assert not list(site.glob("__editable__*")) and not (site / "pyspark").exists()


def test_executors_without_the_environment_fail_in_one_line_saying_what_to_ship(workspace, cluster, tmp_path):
    """PYSPARK_PYTHON at a bare Python (no pandas, no interestkit): the error names the module and the remedy."""
    bare = shutil.which("python3", path="/usr/bin:/bin") or shutil.which("python3")
    check = subprocess.run([bare, "-c", "import pandas"], capture_output=True)
    if check.returncode == 0:
        pytest.skip(f"{bare} has pandas: no bare Python to start executors with")
    run = subprocess.run([sys.executable, "-m", "interestkit", "batch", "--posts", str(workspace["posts"]),
                          "--out", str(tmp_path / "out"), "--engine", "spark", "--master", cluster["url"]],
                         capture_output=True, text=True, env=_clean_env(PYSPARK_PYTHON=bare), timeout=900)
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert lines[-1].startswith("Error: ") and "Traceback" not in run.stderr, run.stderr
    assert "has no module named" in lines[-1] and "PYSPARK_PYTHON" in lines[-1] and "--archives" in lines[-1], lines[-1]
    assert not (tmp_path / "out").exists()
