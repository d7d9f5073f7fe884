"""Adapter merges on the tiny model without training: random LoRA members saved as run
folders, merged through peft, reloaded and compared with the hand-computed combination."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from group_helpers import group_recipe

from tunesmith.artifacts import RunDir
from tunesmith.config import load_recipe
from tunesmith.config.group import MergeConfig
from tunesmith.config.overrides import override_recipe
from tunesmith.errors import UserError
from tunesmith.group.driver import member_recipe
from tunesmith.group.members import Member


def members_with_random_adapters(tmp_path, model_dir, count=2, **lora):
    """Stand-in group members: each a run folder holding a random (non-zero) LoRA adapter."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    recipe = load_recipe(group_recipe(tmp_path, model_dir, {"members": {"seeds": [0, 1]}}))
    members = []
    for k in range(count):
        torch.manual_seed(100 + k)
        base = AutoModelForCausalLM.from_pretrained(model_dir)
        config = LoraConfig(
            r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False, **lora
        )
        model = get_peft_model(base, config)
        run_dir = RunDir(tmp_path / "members" / f"m{k}")
        model.save_pretrained(str(run_dir.train / "adapter"))
        member = Member(f"m{k}", {"training.seed": k})
        members.append(
            SimpleNamespace(member=member, recipe=member_recipe(recipe, member), run_dir=run_dir)
        )
    return members


def hand_delta(run_dir, module: str):
    """scaling * B @ A of one module, read straight from the saved safetensors."""
    from safetensors.torch import load_file

    folder = run_dir.train / "adapter" if hasattr(run_dir, "train") else run_dir
    config = json.loads((folder / "adapter_config.json").read_text())
    tensors = load_file(str(folder / "adapter_model.safetensors"))
    a = next(v for k, v in tensors.items() if module in k and "lora_A" in k)
    b = next(v for k, v in tensors.items() if module in k and "lora_B" in k)
    scale = config["lora_alpha"] / (config["r"] ** 0.5 if config.get("use_rslora") else config["r"])
    return scale * b @ a


MODULE = "layers.1.self_attn.q_proj"


@pytest.mark.parametrize("lora", [{}, {"use_rslora": True}], ids=["lora", "rslora"])
def test_linear_merge_reloads_to_the_weighted_sum_of_deltas(tmp_path, tiny_model_dir, lora):
    from tunesmith.ensemble.merge import merge_adapters
    from tunesmith.ensemble.merge_check import check_mergeable

    members = members_with_random_adapters(tmp_path, tiny_model_dir, **lora)
    target = tmp_path / "merged"
    cfg = MergeConfig(method="linear", weights=[0.7, 0.3])
    record = merge_adapters(members, check_mergeable(members), cfg, target)
    assert record["status"] == "verified" and record["error"] < 1e-5
    want = 0.7 * hand_delta(members[0].run_dir, MODULE) + 0.3 * hand_delta(
        members[1].run_dir, MODULE
    )
    got = hand_delta(target, MODULE)  # the merged adapter as saved on disk
    assert float((got - want).norm() / want.norm()) < 1e-5


def test_linear_merge_above_a_modules_full_rank_is_exact_and_verified(tmp_path, tiny_model_dir):
    """Five rank-4 members stack to rank 20, above v_proj's full rank (16): the rank clamp of
    the SVD merges was applied to `cat` too, so the exact merge was checked against a rank-16
    truncation and refused (the demo-group recipe's linear merge on the tiny model)."""
    from tunesmith.ensemble.merge import merge_adapters
    from tunesmith.ensemble.merge_check import check_mergeable

    members = members_with_random_adapters(tmp_path, tiny_model_dir, count=5)
    target = tmp_path / "merged"
    record = merge_adapters(members, check_mergeable(members), MergeConfig(method="linear"), target)
    assert record["status"] == "verified" and record["error"] < 1e-5
    assert record["rank"] == 20  # the stacked factors' rank, as saved
    want = sum(hand_delta(m.run_dir, MODULE) for m in members) / 5
    got = hand_delta(target, MODULE)
    assert float((got - want).norm() / want.norm()) < 1e-5


def test_peft_linear_cross_terms_are_detected_and_refused(tmp_path, tiny_model_dir, monkeypatch):
    """peft's own "linear" sums A and B separately (cross terms B_i A_j): the check catches it."""
    from tunesmith.ensemble import merge
    from tunesmith.ensemble.merge_check import check_mergeable

    members = members_with_random_adapters(tmp_path, tiny_model_dir)
    monkeypatch.setitem(
        merge.COMBINATIONS, "linear", merge.Combination("linear", "task_arithmetic")
    )
    target = tmp_path / "merged"
    record = merge.merge_adapters(
        members, check_mergeable(members), MergeConfig(method="linear"), target
    )
    assert record["status"] == "refused"
    assert record["error"] > 0.01
    assert not target.exists()  # no wrong adapter is left under the final name


def test_dare_merge_matches_its_own_random_drop(tmp_path, tiny_model_dir):
    from tunesmith.ensemble.merge import merge_adapters
    from tunesmith.ensemble.merge_check import check_mergeable

    members = members_with_random_adapters(tmp_path, tiny_model_dir)
    cfg = MergeConfig(method="dare_ties", density=0.6, svd_rank=32)
    record = merge_adapters(members, check_mergeable(members), cfg, tmp_path / "merged")
    assert record["status"] == "verified" and record["error"] < 1e-4
    # v_proj is 16 x 32 here: a rank-32 merge would not reload (peft does not clamp it)
    assert record["rank"] == 16


def test_dora_members_are_refused(tmp_path, tiny_model_dir):
    from tunesmith.ensemble.merge_check import check_mergeable

    members = members_with_random_adapters(tmp_path, tiny_model_dir, use_dora=True)
    with pytest.raises(UserError, match="use_dora.*refused"):
        check_mergeable(members)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"model.name": "other-model"}, "different base models"),
        ({"training.method": "ia3"}, "only within one method"),
    ],
)
def test_members_of_other_bases_or_methods_are_refused(tmp_path, tiny_model_dir, values, message):
    from tunesmith.ensemble.merge_check import check_mergeable

    members = members_with_random_adapters(tmp_path, tiny_model_dir)
    other = members[1]
    members[1] = SimpleNamespace(
        member=other.member, recipe=override_recipe(other.recipe, values), run_dir=other.run_dir
    )
    with pytest.raises(UserError, match=message):
        check_mergeable(members)


def group_cli_error(tmp_path, model_dir, group, capsys, monkeypatch) -> list[str]:
    """`tunesmith group` on a recipe with this `group:`: exit 2, its stderr lines."""
    from tunesmith.cli.main import main

    path = group_recipe(tmp_path, model_dir, group)
    monkeypatch.setattr("sys.argv", ["tunesmith", "group", str(path), "-o", str(tmp_path / "g")])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    return err.splitlines()


def test_weight_list_not_matching_the_members_is_one_line_exit_2(
    tmp_path, tiny_model_dir, capsys, monkeypatch
):
    group = {"members": {"seeds": [0, 1, 2]}, "merges": [{"method": "ties", "weights": [0.5, 0.5]}]}
    lines = group_cli_error(tmp_path, tiny_model_dir, group, capsys, monkeypatch)
    assert len(lines) == 1 and "merges.0.weights has 2 weights for 3 members" in lines[0]
    assert not (tmp_path / "g").exists()


def test_a_seed_listed_twice_is_refused_with_its_key_path(
    tmp_path, tiny_model_dir, capsys, monkeypatch
):
    group = {"members": {"seeds": [0, 1, 0]}}
    lines = group_cli_error(tmp_path, tiny_model_dir, group, capsys, monkeypatch)
    assert len(lines) == 1, lines
    assert "recipe.yaml:" in lines[0] and "group.members.seeds" in lines[0], lines[0]
    assert "each seed at most once (0 repeated)" in lines[0]
    assert not (tmp_path / "g").exists()  # one member scored twice would pass for an ensemble


def test_variants_of_another_method_are_refused_before_training(
    tmp_path, tiny_model_dir, capsys, monkeypatch
):
    variants = [{"training.seed": 0}, {"training.method": "ia3"}]
    group = {"members": {"variants": variants}, "merges": [{"method": "linear"}]}
    lines = group_cli_error(tmp_path, tiny_model_dir, group, capsys, monkeypatch)
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and "member variant-1 trains with method ia3" in errors[0]
    assert not (tmp_path / "g" / "members").exists()  # nothing trained


class _SavesMerged:
    """Stands in for a peft model: writes `merged/` like peft, then fails if asked to."""

    def __init__(self, text: str, fail: bool = False):
        self.text, self.fail = text, fail

    def save_pretrained(self, folder, selected_adapters):
        assert selected_adapters == ["merged"]
        (Path(folder) / "merged").mkdir(parents=True)
        config = {"peft_type": "LORA", "note": self.text}  # finished as peft's own is
        (Path(folder) / "merged" / "adapter_config.json").write_text(json.dumps(config))
        if self.fail:
            raise OSError("No space left on device")


def test_merged_adapter_is_swapped_in_and_a_failed_save_keeps_the_previous(tmp_path):
    from tunesmith.ensemble.merge import _save

    target = tmp_path / "adapter"
    _save(_SavesMerged("first"), target)
    _save(_SavesMerged("second"), target)
    assert json.loads((target / "adapter_config.json").read_text())["note"] == "second"
    with pytest.raises(OSError):
        _save(_SavesMerged("third", fail=True), target)
    assert json.loads((target / "adapter_config.json").read_text())["note"] == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["adapter"]  # no scratch or staging left
